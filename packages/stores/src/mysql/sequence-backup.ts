import { StoreError } from "@im-core/common";
import { and, asc, eq, gt } from "drizzle-orm";
import { drizzle, type MySql2Database } from "drizzle-orm/mysql2";
import type { Pool, PoolConnection } from "mysql2/promise";
import {
  type BackupConversation,
  type ConversationType,
  EPOCH_ROW,
  EpochFencedError,
  isDeadlock,
  lockName,
  type Reservation,
  type Reserve,
  reserveCeilings,
} from "./ceilings.js";
import { connectionLimitOf, mysqlCall } from "./pool.js";
import { now3, sequenceCeilings, sequenceEpoch } from "./schema.js";
import { type LockedWork, SeedBatches, type SeedBatchStepHook } from "./seed-batches.js";
import { Slots } from "./slots.js";

export type {
  BackupConversation,
  ConversationType,
  Reservation,
  Reserve,
} from "./ceilings.js";
export { EpochFencedError } from "./ceilings.js";

/** A conversation's backup row, as ListSnapshots shows it. */
export interface CeilingRow extends BackupConversation {
  readonly ceiling: number;
  readonly updatedAt: Date;
}

export interface SequenceBackupOptions {
  /** How long a reservation waits for another one of the same conversation. */
  lockTimeoutSeconds?: number;
  /** Bound on each MySQL step: a hung server fails the request instead of hanging it. */
  timeoutMs?: number;
  /**
   * Most reservations (each holding a pooled connection for its lock) in flight at once; more wait
   * in-process, in arrival order. Default: the pool's connection limit minus `RESERVED_HEADROOM`,
   * so other queries (ListSnapshots, readiness, epoch, ceiling reads) always find a connection.
   */
  maxLocks?: number;
  /** Called after each committed reservation (metrics, tests). */
  onReserve?: (conversation: BackupConversation, reservation: Reservation) => void;
  /**
   * Bounds of a batch of seeds (see lockedSeed): rows per statement (and locks per connection), and
   * bytes of row data per statement. Defaults: 100 rows, 256 KiB (MySQL's max_allowed_packet is ≥ 4 MiB).
   * `onStep`: tests only.
   */
  seedBatch?: { rows?: number; bytes?: number; onStep?: SeedBatchStepHook };
}

/** Rows of one batch of seeds, by default. */
export const DEFAULT_SEED_BATCH_ROWS = 100;
/** Bytes of row data in one statement of a batch of seeds, by default. */
export const DEFAULT_SEED_BATCH_BYTES = 256 * 1024;

/** The turn batches of seeds wait as for slots (each seed's own turn counted in its batch). */
const BATCH_TURN = Symbol("seed batch");

/** Pooled connections kept free of reservations for other queries (by default). */
export const RESERVED_HEADROOM = 2;

export interface LockOptions {
  /** Ends the wait for a free connection (the call's deadline or cancellation). */
  signal?: AbortSignal;
  /**
   * A reservation that creates a counter (a conversation's first touch, or one lost with Redis). These
   * hold at most half the slots, so a flood of new conversations never takes every connection from the
   * conversations that only need more room.
   */
  seed?: boolean;
  /**
   * Called when the call's turn has come, before any MySQL work: throwing refuses it. Asked this
   * late, a caller over its limit costs a queue slot, never a MySQL round.
   */
  admit?: () => void;
  /**
   * Who is asking (the caller's token): callers with different values take turns for a free slot, so
   * one caller's flood of reservations only queues behind itself.
   */
  turn?: unknown;
}

/**
 * The MySQL side of the sequence service: per-conversation ceilings, the Redis epoch, and the
 * per-conversation lock that serialises every reservation together with its application to Redis.
 */
export class MySqlSequenceBackup {
  readonly #pool: Pool;
  readonly #db: MySql2Database;
  readonly #lockTimeoutSeconds: number;
  readonly #timeoutMs: number;
  readonly #onReserve: SequenceBackupOptions["onReserve"];
  readonly #slots: Slots;
  readonly #seedSlots: Slots;
  readonly #seeds: SeedBatches;

  constructor(pool: Pool, opts: SequenceBackupOptions = {}) {
    this.#pool = pool;
    this.#slots = new Slots(opts.maxLocks ?? Math.max(1, connectionLimitOf(pool) - RESERVED_HEADROOM));
    this.#seedSlots = new Slots(Math.max(1, Math.floor(this.#slots.limit / 2)));
    this.#db = drizzle({ client: pool });
    this.#lockTimeoutSeconds = opts.lockTimeoutSeconds ?? 5;
    this.#timeoutMs = opts.timeoutMs ?? 5_000;
    this.#onReserve = opts.onReserve;
    this.#seeds = new SeedBatches(
      {
        // A batch holds a seed slot and a connection slot, as one seed did before batching.
        slot: () => this.#slot({ seed: true, turn: BATCH_TURN }),
        connect: () => this.#connect(),
        call: (what, run) => mysqlCall(what, this.#timeoutMs, run),
        onReserve: this.#onReserve,
        onStep: opts.seedBatch?.onStep,
        alone: (id, work, { signal, turn }) => this.locked(id, work, { signal, turn, seed: true }),
      },
      {
        limits: {
          rows: opts.seedBatch?.rows ?? DEFAULT_SEED_BATCH_ROWS,
          bytes: opts.seedBatch?.bytes ?? DEFAULT_SEED_BATCH_BYTES,
        },
        lanes: this.#seedSlots.limit,
        // As many of a token's new conversations in MySQL at once as seeds were before batching.
        perTurn: this.#seedSlots.limit,
      },
    );
  }

  /** The committed ceiling, 0 for a conversation never seen. */
  async ceiling(id: string): Promise<number> {
    const rows = await mysqlCall("read ceiling", this.#timeoutMs, () =>
      this.#db
        .select({ ceiling: sequenceCeilings.ceiling })
        .from(sequenceCeilings)
        .where(eq(sequenceCeilings.id, id)),
    );
    return rows[0]?.ceiling ?? 0;
  }

  /**
   * The epoch for Redis counters on the server(s) with this identity. A new identity bumps the
   * epoch exactly once, however many instances notice it at the same time.
   */
  async epochFor(identity: string): Promise<number> {
    return mysqlCall("epoch", this.#timeoutMs, async () => {
      // The very first start creates the row; instances racing there may deadlock on it once.
      for (let attempt = 1; ; attempt += 1) {
        try {
          return await this.#epochFor(identity);
        } catch (error) {
          if (attempt === 3 || !isDeadlock(error)) throw error;
        }
      }
    });
  }

  #epochFor(identity: string): Promise<number> {
    return this.#db.transaction(async (tx) => {
      const current = () =>
        tx.select().from(sequenceEpoch).where(eq(sequenceEpoch.id, EPOCH_ROW)).for("update");
      let [row] = await current();
      if (!row) {
        await tx.insert(sequenceEpoch).ignore().values({ id: EPOCH_ROW, epoch: 1, redisIdentity: identity });
        [row] = await current();
      }
      if (!row) throw new Error("epoch row vanished");
      if (row.redisIdentity === identity) return row.epoch;
      const epoch = row.epoch + 1;
      await tx
        .update(sequenceEpoch)
        .set({ epoch, redisIdentity: identity, updatedAt: now3 })
        .where(eq(sequenceEpoch.id, EPOCH_ROW));
      return epoch;
    });
  }

  /** Rows in id order after `afterId`: keyset pagination, stable while rows are added. */
  async page(opts: { type?: ConversationType; afterId?: string; limit: number }): Promise<CeilingRow[]> {
    const t = sequenceCeilings;
    return mysqlCall("list", this.#timeoutMs, () =>
      this.#db
        .select()
        .from(t)
        .where(
          and(
            opts.type === undefined ? undefined : eq(t.type, opts.type),
            opts.afterId === undefined ? undefined : gt(t.id, opts.afterId),
          ),
        )
        .orderBy(asc(t.id))
        .limit(opts.limit),
    );
  }

  /**
   * Runs `work` holding the conversation's lock (MySQL GET_LOCK, one per conversation across all
   * instances). `work` reserves and applies the result to Redis before the lock is released, so a
   * ceiling read here is never overtaken by another instance's reservation before it is applied.
   */
  async locked<T>(id: string, work: (reserve: Reserve) => Promise<T>, opts: LockOptions = {}): Promise<T> {
    const release = await this.#slot(opts);
    try {
      opts.admit?.();
      // Everyone it was for gave up while it waited: no lock round for nobody.
      if (opts.signal?.aborted) throw opts.signal.reason;
      return await this.#locked(id, work);
    } finally {
      release();
    }
  }

  /** At most `maxLocks` connections held for locks: the rest wait here, not in the pool's queue. */
  async #slot({ seed, signal, turn }: LockOptions): Promise<() => void> {
    const releaseSeed = seed ? await this.#seedSlots.acquire(signal, turn) : undefined;
    try {
      const release = await this.#slots.acquire(signal, turn);
      return () => {
        release();
        releaseSeed?.();
      };
    } catch (error) {
      releaseSeed?.();
      throw error;
    }
  }

  /**
   * Like `locked(conversation.id, work, { seed: true, ... })`, for a reservation that creates a
   * counter, but concurrent seeds share MySQL round trips: a batch takes all their locks in one
   * statement and commits all their reservations in one transaction (see SeedBatches). `work` runs
   * holding the conversation's lock, as with `locked`; `admit` is asked when the seed is taken into a
   * batch; a seed still waiting for a batch leaves when `signal` aborts.
   */
  lockedSeed<T>(conversation: BackupConversation, work: LockedWork<T>, opts: LockOptions = {}): Promise<T> {
    return this.#seeds.run(conversation, work, opts);
  }

  /** Reservations in flight and waiting for a connection or a batch (tests, metrics). */
  get lockSlots(): { limit: number; inUse: number; waiting: number } {
    return {
      limit: this.#slots.limit,
      inUse: this.#slots.inUse,
      waiting: this.#slots.waiting + this.#seeds.waiting,
    };
  }

  async #connect(): Promise<PoolConnection> {
    const connecting = this.#pool.getConnection();
    try {
      return await mysqlCall("connect", this.#timeoutMs, () => connecting);
    } catch (error) {
      // A connection arriving after we gave up would otherwise never go back to the pool.
      connecting.then(
        (late) => late.destroy(),
        () => {},
      );
      // The server cannot be reached: those waiting for a slot or a batch would only find the same,
      // one slot at a time (a hung server: timeoutMs each). Fail them now.
      this.#slots.failWaiting(error);
      this.#seedSlots.failWaiting(error);
      this.#seeds.failWaiting(error);
      throw error;
    }
  }

  async #locked<T>(id: string, work: (reserve: Reserve) => Promise<T>): Promise<T> {
    const connection = await this.#connect();
    // A connection left in an unknown state (a query failed or overran) is dropped, never reused;
    // dropping it also makes the server release its lock.
    let broken = false;
    const step = async <R>(what: string, run: () => Promise<R>): Promise<R> => {
      try {
        return await mysqlCall(what, this.#timeoutMs, run);
      } catch (error) {
        broken ||= !(error instanceof EpochFencedError);
        throw error;
      }
    };
    const lock = lockName(id);
    try {
      await step("lock", async () => {
        const [rows] = await connection.query("SELECT GET_LOCK(?, ?) AS locked", [
          lock,
          this.#lockTimeoutSeconds,
        ]);
        if ((rows as { locked: number | null }[])[0]?.locked !== 1) {
          throw new StoreError("unavailable", "another reservation of this conversation is taking too long");
        }
      });
      const db = drizzle({ client: connection });
      try {
        return await work((conversation, epoch, target) =>
          step("reserve", async () => {
            const [result] = await reserveCeilings(db, [{ conversation, epoch, target }]);
            if (result instanceof EpochFencedError) throw result;
            this.#onReserve?.(conversation, result!);
            return result!;
          }),
        );
      } finally {
        if (!broken) await step("unlock", () => connection.query("SELECT RELEASE_LOCK(?)", [lock]));
      }
    } finally {
      if (broken) connection.destroy();
      else connection.release();
    }
  }
}
