import type { Logger, ReadinessCheck } from "@im-core/service-kit";
import { createMySqlPool, MySqlSequenceBackup, migrateDatabase } from "@im-core/stores/mysql";
import { createRedisClient, RedisSequenceStore } from "@im-core/stores/redis";
import { SequenceAllocator } from "./allocator/allocator.js";
import type { SequenceConfig } from "./config.js";

/** Everything the sequence service talks to, opened and ready to be handed to the server. */
export interface SequenceBackends {
  readonly allocator: SequenceAllocator;
  readonly backup: MySqlSequenceBackup;
  readonly readiness: readonly ReadinessCheck[];
  close(): Promise<void>;
}

/** Connects to MySQL (applying pending migrations) and Redis. */
export async function openSequenceBackends(
  config: Pick<SequenceConfig, "redisUrl" | "mysqlUrl" | "step">,
  logger: Logger,
): Promise<SequenceBackends> {
  const pool = createMySqlPool(config.mysqlUrl);
  try {
    await migrateDatabase(pool);
  } catch (error) {
    await pool.end();
    throw error;
  }
  const backup = new MySqlSequenceBackup(pool);
  const redis = new RedisSequenceStore(createRedisClient(config.redisUrl));
  // Redis being down at start-up is no reason not to start: requests fail UNAVAILABLE until it is up.
  await redis.waitReady(2_000).catch((error: unknown) => logger.warn({ err: error }, "Redis not ready yet"));
  const allocator = new SequenceAllocator(redis, backup, {
    step: config.step,
    onBackgroundError: (error) => logger.warn({ err: error }, "background reservation failed"),
  });
  return {
    allocator,
    backup,
    readiness: [
      { name: "redis", check: async () => void (await redis.connection()) },
      { name: "mysql", check: async () => void (await pool.query("SELECT 1")) },
    ],
    async close() {
      await allocator.settle();
      await Promise.all([redis.close(), pool.end()]);
    },
  };
}
