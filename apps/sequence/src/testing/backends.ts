import {
  createMySqlPool,
  MySqlSequenceBackup,
  migrateDatabase,
  type Reservation,
} from "@im-core/stores/mysql";
import {
  type ClusterNode,
  createRedisClient,
  createRedisClusterClient,
  RedisSequenceStore,
} from "@im-core/stores/redis";
import { type AllocatorOptions, SequenceAllocator } from "../allocator/allocator.js";

/** Every committed reservation, in commit order, as the tests' ground truth for "reserved". */
export interface ReservationLog {
  readonly entries: { id: string; at: number; reservation: Reservation }[];
  /** The highest ceiling committed for `id` up to `at` (a performance.now() time). */
  ceilingAt(id: string, at: number): number;
}

export interface TestInstance {
  readonly allocator: SequenceAllocator;
  readonly backup: MySqlSequenceBackup;
  readonly redis: RedisSequenceStore;
  close(): Promise<void>;
}

export type RedisTarget = { url: string } | { cluster: ClusterNode[] };

/**
 * A fresh database (migrated) plus a factory of allocator instances sharing it, each with its own
 * Redis connection and pool, as separate service processes would have.
 */
export async function testDeployment(mysqlUrl: string, log = newReservationLog()) {
  const migrationPool = createMySqlPool(mysqlUrl);
  await migrateDatabase(migrationPool);
  await migrationPool.end();
  const instances: TestInstance[] = [];

  function instance(target: RedisTarget, opts: Partial<AllocatorOptions> = {}): TestInstance {
    const pool = createMySqlPool(mysqlUrl);
    const backup = new MySqlSequenceBackup(pool, {
      timeoutMs: 2_000,
      onReserve: (conversation, reservation) =>
        log.entries.push({ id: conversation.id, at: performance.now(), reservation }),
    });
    const client =
      "url" in target
        ? createRedisClient(target.url, { commandTimeoutMs: 1_000 })
        : createRedisClusterClient(target.cluster, { commandTimeoutMs: 1_000 });
    const redis = new RedisSequenceStore(client);
    const allocator = new SequenceAllocator(redis, backup, { step: 100, ...opts });
    const created: TestInstance = {
      allocator,
      backup,
      redis,
      async close() {
        await allocator.settle();
        await redis.close();
        await pool.end();
      },
    };
    instances.push(created);
    return created;
  }

  return {
    log,
    instance,
    async close() {
      await Promise.all(instances.map((i) => i.close()));
    },
  };
}

export function newReservationLog(): ReservationLog {
  const entries: ReservationLog["entries"] = [];
  return {
    entries,
    ceilingAt(id, at) {
      let ceiling = 0;
      for (const e of entries)
        if (e.id === id && e.at <= at) ceiling = Math.max(ceiling, e.reservation.ceiling);
      return ceiling;
    },
  };
}
