import type { Logger, ReadinessCheck, ServiceMetrics } from "@im-core/service-kit";
import { createMySqlPool, MySqlSequenceBackup, migrateDatabase } from "@im-core/stores/mysql";
import {
  createRedisClient,
  createRedisClusterClientFromUrls,
  RedisSequenceStore,
} from "@im-core/stores/redis";
import { SequenceAllocator } from "./allocator/allocator.js";
import type { SequenceConfig } from "./config.js";
import { sequenceMetrics } from "./metrics.js";

/** Everything the sequence service talks to, opened and ready to be handed to the server. */
export interface SequenceBackends {
  readonly allocator: SequenceAllocator;
  readonly backup: MySqlSequenceBackup;
  readonly readiness: readonly ReadinessCheck[];
  close(): Promise<void>;
}

/**
 * Connects to MySQL (applying pending migrations) and Redis, a single server or a cluster. With
 * `metrics`, reservations, MySQL writes, coalesced calls, server changes and the epoch are counted there.
 */
export async function openSequenceBackends(
  config: Pick<SequenceConfig, "redis" | "mysqlUrl" | "step">,
  logger: Logger,
  opts: { metrics?: ServiceMetrics } = {},
): Promise<SequenceBackends> {
  const metrics = opts.metrics ? sequenceMetrics(opts.metrics) : undefined;
  const pool = createMySqlPool(config.mysqlUrl);
  try {
    await migrateDatabase(pool);
  } catch (error) {
    await pool.end();
    throw error;
  }
  const backup = new MySqlSequenceBackup(pool, metrics ? { onReserve: metrics.mysqlWrite } : {});
  const client =
    "url" in config.redis
      ? createRedisClient(config.redis.url)
      : createRedisClusterClientFromUrls(config.redis.cluster);
  const redis = new RedisSequenceStore(client);
  // Redis being down at start-up is no reason not to start: requests fail UNAVAILABLE until it is up.
  await redis.waitReady(2_000).catch((error: unknown) => logger.warn({ err: error }, "Redis not ready yet"));
  const allocator = new SequenceAllocator(redis, backup, {
    step: config.step,
    onBackgroundError: (error) => logger.warn({ err: error }, "background reservation failed"),
    ...(metrics ? { events: metrics.events } : {}),
  });
  metrics?.watchEpoch(() => allocator.epoch);
  return {
    allocator,
    backup,
    readiness: [
      { name: "redis", check: () => redis.ping() },
      { name: "mysql", check: async () => void (await pool.query("SELECT 1")) },
    ],
    async close() {
      await allocator.settle();
      await Promise.all([redis.close(), pool.end()]);
    },
  };
}
