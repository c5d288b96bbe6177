import { StoreError } from "@im-core/common";
import { and, asc, eq, gt, sql } from "drizzle-orm";
import { drizzle, type MySql2Database } from "drizzle-orm/mysql2";
import type { Pool, PoolConnection } from "mysql2/promise";
import { connectionLimitOf, mysqlCall } from "./pool.js";
import { now3, sequenceCeilings, sequenceEpoch } from "./schema.js";
import { Slots } from "./slots.js";

export type ConversationType = "private" | "group";

/** What the backup stores about a conversation, besides its ceiling. */
export interface BackupConversation {
  /** Stable, at most 64 characters (the sequence service uses the SHA-256 hex of its key). */
  readonly id: string;
  readonly type: ConversationType;
  readonly partA: string;
  readonly partB: string | null;
}

/** A conversation's backup row, as ListSnapshots shows it. */
export interface CeilingRow extends BackupConversation {
  readonly ceiling: number;
  readonly updatedAt: Date;
}

/** A ceiling raised and committed: every number up to `ceiling` may now be handed out. */
export interface Reservation {
  /** The ceiling before: no number above it had been handed out (given the conversation's lock). */
  readonly previous: number;
  readonly ceiling: number;
}

/** Raises the conversation's ceiling to at least `target(previous)` and commits, if `epoch` is current. */
export type Reserve = (
  conversation: BackupConversation,
  epoch: number,
  target: (previous: number) => number,
) => Promise<Reservation>;

/** A reservation was refused because the epoch moved on: the caller's view of Redis is outdated. */
export class EpochFencedError extends StoreError {
  constructor(
    readonly expected: number,
    readonly current: number,
  ) {
    super("unavailable", `sequence epoch moved from ${expected} to ${current}; retry`);
  }
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
}

const EPOCH_ROW = 1;

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

  constructor(pool: Pool, opts: SequenceBackupOptions = {}) {
    this.#pool = pool;
    this.#slots = new Slots(opts.maxLocks ?? Math.max(1, connectionLimitOf(pool) - RESERVED_HEADROOM));
    this.#seedSlots = new Slots(Math.max(1, Math.floor(this.#slots.limit / 2)));
    this.#db = drizzle({ client: pool });
    this.#lockTimeoutSeconds = opts.lockTimeoutSeconds ?? 5;
    this.#timeoutMs = opts.timeoutMs ?? 5_000;
    this.#onReserve = opts.onReserve;
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
    // At most `maxLocks` connections held for locks: the rest wait here, not in the pool's queue.
    const releaseSeed = opts.seed ? await this.#seedSlots.acquire(opts.signal, opts.turn) : undefined;
    try {
      const release = await this.#slots.acquire(opts.signal, opts.turn);
      try {
        opts.admit?.();
        // Everyone it was for gave up while it waited: no lock round for nobody.
        if (opts.signal?.aborted) throw opts.signal.reason;
        return await this.#locked(id, work);
      } finally {
        release();
      }
    } finally {
      releaseSeed?.();
    }
  }

  /** Reservations in flight and waiting for a connection (tests, metrics). */
  get lockSlots(): { limit: number; inUse: number; waiting: number } {
    return { limit: this.#slots.limit, inUse: this.#slots.inUse, waiting: this.#slots.waiting };
  }

  async #locked<T>(id: string, work: (reserve: Reserve) => Promise<T>): Promise<T> {
    let connection: PoolConnection;
    const connecting = this.#pool.getConnection();
    try {
      connection = await mysqlCall("connect", this.#timeoutMs, () => connecting);
    } catch (error) {
      // A connection arriving after we gave up would otherwise never go back to the pool.
      connecting.then(
        (late) => late.destroy(),
        () => {},
      );
      // The server cannot be reached: those waiting for a slot would only find the same, one
      // slot at a time (a hung server: timeoutMs each). Fail them now.
      this.#slots.failWaiting(error);
      this.#seedSlots.failWaiting(error);
      throw error;
    }
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
    const lock = `im-seq/${id}`.slice(0, 64);
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
          step("reserve", () => this.#reserve(db, conversation, epoch, target)),
        );
      } finally {
        if (!broken) await step("unlock", () => connection.query("SELECT RELEASE_LOCK(?)", [lock]));
      }
    } finally {
      if (broken) connection.destroy();
      else connection.release();
    }
  }

  async #reserve(
    db: MySql2Database,
    conversation: BackupConversation,
    epoch: number,
    target: (previous: number) => number,
  ): Promise<Reservation> {
    const reservation = await db.transaction(async (tx) => {
      // Shared lock: an epoch bump waits for reservations in flight, and fences later ones.
      const [epochRows] = (await tx.execute(
        sql`SELECT epoch FROM ${sequenceEpoch} WHERE id = ${EPOCH_ROW} LOCK IN SHARE MODE`,
      )) as unknown as [{ epoch: number | string }[]];
      const current = Number(epochRows[0]?.epoch ?? 0);
      if (current !== epoch) throw new EpochFencedError(epoch, current);

      const [row] = await tx
        .select({ ceiling: sequenceCeilings.ceiling })
        .from(sequenceCeilings)
        .where(eq(sequenceCeilings.id, conversation.id));
      const previous = row?.ceiling ?? 0;
      const ceiling = Math.max(previous, target(previous));
      await tx
        .insert(sequenceCeilings)
        .values({ ...conversation, ceiling })
        .onDuplicateKeyUpdate({
          // Absolute writes never move a ceiling backwards, whatever raced them.
          set: { ceiling: sql`GREATEST(ceiling, VALUES(ceiling))`, updatedAt: now3 },
        });
      return { previous, ceiling };
    });
    this.#onReserve?.(conversation, reservation);
    return reservation;
  }
}

function isDeadlock(error: unknown): boolean {
  for (let e = error; e instanceof Error; e = e.cause) {
    if ((e as { code?: unknown }).code === "ER_LOCK_DEADLOCK") return true;
  }
  return false;
}
