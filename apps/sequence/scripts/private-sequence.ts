import { SequenceService } from "@im-core/proto";
import { createLogger, ServiceMetrics } from "@im-core/service-kit";
import { startMariaDb, startRedis } from "@im-core/testkit";
import { openSequenceBackends } from "../src/backends.js";

/**
 * The sequence backends (production wiring) over a private Redis and MariaDB started for one script, and
 * a close that stops all of it.
 */
export async function openPrivateSequence(name: string, step: number) {
  const [redis, mariadb] = await Promise.all([startRedis(), startMariaDb()]);
  const backends = await openSequenceBackends(
    { redis: { url: redis.url }, mysqlUrl: await mariadb.createDatabase(), step },
    createLogger(name, "warn"),
    { metrics: new ServiceMetrics(SequenceService.typeName) },
  );
  return {
    redis,
    backends,
    async close() {
      await backends.close();
      await Promise.all([redis.dispose(), mariadb.dispose()]);
    },
  };
}
