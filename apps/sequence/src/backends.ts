import { type Logger, RateLimiter, type ReadinessCheck, type ServiceMetrics } from "@im-core/service-kit";
import {
  createMySqlPool,
  MySqlProbeConnection,
  MySqlSequenceBackup,
  migrateDatabase,
  pingMySqlOnce,
  type SequenceBackupOptions,
} from "@im-core/stores/mysql";
import {
  connectRedis,
  pingRedisOnce,
  type RedisConnectOptions,
  RedisSequenceStore,
} from "@im-core/stores/redis";
import { type AllocatorOptions, SequenceAllocator } from "./allocator/allocator.js";
import { DEFAULT_NEW_CONVERSATION_RATE, type SequenceConfig } from "./config.js";
import { sequenceMetrics } from "./metrics.js";

/** Everything the sequence service talks to, opened and ready to be handed to the server. */
export interface SequenceBackends {
  readonly allocator: SequenceAllocator;
  readonly backup: MySqlSequenceBackup;
  readonly redis: RedisSequenceStore;
  /** New conversations per token (SEQUENCE_NEW_CONVERSATION_RATE). */
  readonly newConversations: RateLimiter;
  readonly readiness: readonly ReadinessCheck[];
  close(): Promise<void>;
}

export interface SequenceBackendOptions {
  /** Where reservations, MySQL writes, coalesced calls, server changes and the epoch are counted. */
  metrics: ServiceMetrics;
  /** What only tests change: tighter timeouts, a log of every reservation, the prefetch point. */
  redis?: RedisConnectOptions;
  backup?: SequenceBackupOptions;
  /** `events` replaces the metrics' own (a test counting something itself). */
  allocator?: Pick<AllocatorOptions, "prefetchAfter" | "events">;
}

/**
 * The sequence service's backends as production runs them: MySQL (pending migrations applied first),
 * Redis (a single server or a cluster) and the allocator over both. Tests call this same function.
 */
export async function openSequenceBackends(
  config: Pick<SequenceConfig, "redis" | "mysqlUrl" | "step"> &
    Partial<Pick<SequenceConfig, "newConversationRate">>,
  logger: Logger,
  options: SequenceBackendOptions,
): Promise<SequenceBackends> {
  const metrics = sequenceMetrics(options.metrics);
  const pool = createMySqlPool(config.mysqlUrl);
  try {
    await migrateDatabase(pool);
  } catch (error) {
    await pool.end();
    throw error;
  }
  const onReserve = options.backup?.onReserve;
  const backup = new MySqlSequenceBackup(pool, {
    ...options.backup,
    onReserve: (conversation, reservation) => {
      metrics.mysqlWrite();
      onReserve?.(conversation, reservation);
    },
  });
  const single = "url" in config.redis ? config.redis.url : undefined;
  // Readiness asks MySQL over a connection of its own, not through the pool its calls queue in.
  const mysqlProbe = new MySqlProbeConnection(config.mysqlUrl, 1_000);
  const redis = new RedisSequenceStore(connectRedis(config.redis, options.redis));
  // Redis being down at start-up is no reason not to start: requests fail UNAVAILABLE until it is up.
  await redis.waitReady(2_000).catch((error: unknown) => logger.warn({ err: error }, "Redis not ready yet"));
  const allocator = new SequenceAllocator(redis, backup, {
    events: metrics.events,
    ...options.allocator,
    step: config.step,
    onBackgroundError: (error) => logger.warn({ err: error }, "background reservation failed"),
  });
  metrics.watchEpoch(() => allocator.epoch);
  const rate = config.newConversationRate ?? DEFAULT_NEW_CONVERSATION_RATE;
  return {
    allocator,
    backup,
    redis,
    newConversations: new RateLimiter(rate, rate * 10),
    // Each asked again over a fresh connection when ours fails (see ReadinessCheck.fresh). A cluster is
    // not: our PING reaches one master at random, a fresh one a seed, so they would not compare.
    readiness: [
      {
        name: "redis",
        check: () => redis.ping(),
        ...(single ? { fresh: () => pingRedisOnce(single, 1_000) } : {}),
      },
      { name: "mysql", check: () => mysqlProbe.ping(), fresh: () => pingMySqlOnce(config.mysqlUrl, 1_000) },
    ],
    async close() {
      await allocator.settle();
      mysqlProbe.close();
      await Promise.all([redis.close(), pool.end()]);
    },
  };
}
