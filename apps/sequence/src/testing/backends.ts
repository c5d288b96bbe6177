import { SequenceService } from "@im-core/proto";
import { createLogger, ServiceMetrics } from "@im-core/service-kit";
import type { Reservation, SequenceBackupOptions } from "@im-core/stores/mysql";
import type { RedisTarget } from "@im-core/stores/redis";
import { type MariaDbServer, type RedisServer, startMariaDb, startRedis } from "@im-core/testkit";
import { forFile } from "@im-core/testkit/vitest";
import type { AllocatorOptions } from "../allocator/allocator.js";
import { openSequenceBackends, type SequenceBackends } from "../backends.js";

/** Every committed reservation, in commit order, as the tests' ground truth for "reserved". */
export interface ReservationLog {
  readonly entries: { id: string; at: number; reservation: Reservation }[];
  /** The highest ceiling committed for `id` up to `at` (a performance.now() time). */
  ceilingAt(id: string, at: number): number;
}

/**
 * A fresh database plus a factory of instances sharing it, each with its own Redis connection and pool
 * as separate service processes would have, opened by the production wiring (openSequenceBackends) with
 * tighter timeouts and every reservation logged.
 */
export async function testDeployment(mysqlUrl: string, log = newReservationLog()) {
  const logger = createLogger("sequence-test", "silent");
  const instances: SequenceBackends[] = [];

  async function instance(
    redis: RedisTarget,
    opts: { step?: number; seedBatch?: SequenceBackupOptions["seedBatch"] } & Pick<
      AllocatorOptions,
      "prefetchAfter" | "events"
    > = {},
  ): Promise<SequenceBackends> {
    const { step = 100, seedBatch, ...allocator } = opts;
    const backends = await openSequenceBackends({ redis, mysqlUrl, step }, logger, {
      metrics: new ServiceMetrics(SequenceService.typeName),
      redis: { commandTimeoutMs: 1_000 },
      backup: {
        timeoutMs: 2_000,
        ...(seedBatch ? { seedBatch } : {}),
        onReserve: (conversation, reservation) =>
          log.entries.push({ id: conversation.id, at: performance.now(), reservation }),
      },
      allocator,
    });
    instances.push(backends);
    return backends;
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

/**
 * A private Redis and MariaDB for one test file, started before its tests and disposed after: the file
 * may stop, kill or pause them.
 */
export function privateBackends() {
  const servers = forFile(
    async () => {
      const [redis, mariadb] = await Promise.all([startRedis(), startMariaDb()]);
      return { redis, mariadb };
    },
    ({ redis, mariadb }) => Promise.all([redis.dispose(), mariadb.dispose()]),
  );
  return {
    get redis(): RedisServer {
      return servers().redis;
    },
    get mariadb(): MariaDbServer {
      return servers().mariadb;
    },
  };
}
