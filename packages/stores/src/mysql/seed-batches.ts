import type { PoolConnection } from "mysql2/promise";
import {
  type BackupConversation,
  type CeilingRequest,
  EpochFencedError,
  lockName,
  type Reservation,
  type Reserve,
} from "./ceilings.js";
import { type BatchLimits, type QueuedSeed, SeedQueue } from "./seed-queue.js";
import { lockAndRead, writeCeilings } from "./seed-statements.js";

/** Work done holding a conversation's lock (see MySqlSequenceBackup.locked). */
export type LockedWork<T> = (reserve: Reserve) => Promise<T>;

/** What a batch needs from the backup that runs it. */
export interface SeedBatchHost {
  /** A seed slot and a connection slot (see Slots); resolves with their release. */
  slot(): Promise<() => void>;
  /** A pooled connection; a failure means the server cannot be reached (the host fails the waiting). */
  connect(): Promise<PoolConnection>;
  /** One MySQL step, bounded in time; driver failures become StoreErrors. */
  call<R>(what: string, run: () => Promise<R>): Promise<R>;
  /** Each committed reservation (metrics, tests). */
  onReserve?: ((conversation: BackupConversation, reservation: Reservation) => void) | undefined;
  /** Awaited at each step of a batch (tests inject faults there); throwing fails that step. */
  onStep?: SeedBatchStepHook | undefined;
  /** A seed whose lock another reservation holds: the one-by-one path, which waits for the lock. */
  alone<T>(id: string, work: LockedWork<T>, opts: SeedOptions): Promise<T>;
}

/**
 * A batch reached a step on the connection `threadId`: `locked` (its locks taken and its ceilings read,
 * no work run yet), `reserving` (its transaction about to be sent), `committed` (committed, no work
 * told yet).
 */
export type SeedBatchStepHook = (
  step: "locked" | "reserving" | "committed",
  batch: { readonly threadId: number; readonly ids: readonly string[] },
) => void | Promise<void>;

export interface SeedOptions {
  signal?: AbortSignal | undefined;
  turn?: unknown;
  admit?: (() => void) | undefined;
}

interface Seed extends QueuedSeed {
  readonly conversation: BackupConversation;
  readonly work: LockedWork<unknown>;
  resolve(value: unknown): void;
}

interface Ask extends CeilingRequest {
  resolve(reservation: Reservation): void;
  reject(error: unknown): void;
}

/**
 * Seeds (reservations that create a counter: first touches, counters lost with Redis) of many
 * conversations share MySQL round trips. Each batch runs on one connection: one round trip takes every
 * conversation's lock without waiting (GET_LOCK(name, 0) each) and then reads their committed ceilings
 * (lockAndRead); every seed's work then runs under its lock, concurrently; their reserve calls are held
 * until every work of the batch has either called reserve or finished, then committed in one
 * transaction sent in one round trip (writeCeilings); the locks are released together once every work has
 * finished. A seed whose lock is held elsewhere leaves the batch for the one-by-one path. At most
 * `lanes` batches run at once, each holding a seed slot and a connection slot.
 */
export class SeedBatches {
  readonly #host: SeedBatchHost;
  readonly #queue: SeedQueue<Seed>;
  readonly #limits: BatchLimits;
  readonly #lanes: number;
  #running = 0;
  /** Lanes waiting for their slots: each will take what is queued when it gets them. */
  #starting = 0;
  /** The last lane found nothing it may take (every waiting turn at its bound): wait for a change. */
  #stalled = false;

  constructor(host: SeedBatchHost, opts: { limits: BatchLimits; lanes: number; perTurn: number }) {
    this.#host = host;
    this.#limits = opts.limits;
    this.#lanes = opts.lanes;
    this.#queue = new SeedQueue(opts.perTurn);
  }

  /** Seeds waiting for a batch. */
  get waiting(): number {
    return this.#queue.size;
  }

  run<T>(conversation: BackupConversation, work: LockedWork<T>, opts: SeedOptions = {}): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#queue.add({
        conversation,
        work,
        lock: lockName(conversation.id),
        // Each string at most doubled by escaping, plus the id, the type, the ceiling and separators.
        bytes:
          2 * (Buffer.byteLength(conversation.partA) + Buffer.byteLength(conversation.partB ?? "")) + 160,
        turn: opts.turn,
        admit: opts.admit,
        signal: opts.signal,
        resolve: resolve as (value: unknown) => void,
        fail: reject,
      });
      this.#stalled = false;
      this.#pump();
    });
  }

  /** Fails every seed still waiting (the server cannot be reached). */
  failWaiting(error: unknown): void {
    this.#queue.failAll(error);
  }

  /** Starts a lane while seeds wait that the lanes already starting will not take. */
  #pump(): void {
    while (
      !this.#stalled &&
      this.#running < this.#lanes &&
      this.#queue.size > this.#starting * this.#limits.rows
    ) {
      void this.#lane();
    }
  }

  async #lane(): Promise<void> {
    this.#running += 1;
    this.#starting += 1;
    let release: (() => void) | undefined;
    try {
      release = await this.#host.slot();
    } catch {
      // Slots failed their waiters (MySQL unreachable): the queue was failed with them.
    } finally {
      this.#starting -= 1;
    }
    try {
      // Taken when the slot is granted: everyone who queued meanwhile rides along.
      const seeds = release ? this.#queue.take(this.#limits) : [];
      if (seeds.length > 0) await this.#batch(seeds);
      else if (this.#queue.size > 0) this.#stalled = true;
    } finally {
      release?.();
      this.#running -= 1;
      this.#pump();
    }
  }

  async #batch(seeds: Seed[]): Promise<void> {
    const settle = (seed: Seed, outcome: { value: unknown } | { error: unknown }) => {
      this.#queue.done(seed);
      this.#stalled = false;
      if ("value" in outcome) seed.resolve(outcome.value);
      else seed.fail(outcome.error);
      this.#pump();
    };
    let connection: PoolConnection;
    try {
      connection = await this.#host.connect();
    } catch (error) {
      for (const seed of seeds) settle(seed, { error });
      return;
    }
    // A connection left in an unknown state is dropped, never reused; dropping it also makes the
    // server release every lock it held.
    let broken = false;
    const call = async <R>(what: string, run: () => Promise<R>): Promise<R> => {
      try {
        return await this.#host.call(what, run);
      } catch (error) {
        broken = true;
        throw error;
      }
    };
    const locks = seeds.map((seed) => seed.lock);
    // Seeds holding their lock on this connection; until the lock statement answered, all of them.
    let held: Seed[] = seeds;
    // Their committed ceilings, read under their locks (with the locks, in one round trip).
    let ceilings = new Map<string, number>();
    try {
      const read = await call("lock", () =>
        lockAndRead(
          connection,
          locks,
          seeds.map((seed) => seed.conversation.id),
        ),
      );
      ceilings = read.ceilings;
      held = seeds.filter((_, i) => read.taken[i]);
      for (const seed of seeds.filter((_, i) => !read.taken[i])) {
        this.#host.alone(seed.conversation.id, seed.work, { signal: seed.signal, turn: seed.turn }).then(
          (value) => settle(seed, { value }),
          (error: unknown) => settle(seed, { error }),
        );
      }
      const ids = held.map((seed) => seed.conversation.id);
      if (held.length > 0)
        await call("locked", async () =>
          this.#host.onStep?.("locked", { threadId: connection.threadId, ids }),
        );
    } catch (error) {
      // No work has run: the held seeds fail as one, the connection is dropped (and its locks with it).
      for (const seed of held) settle(seed, { error });
      connection.destroy();
      return;
    }
    try {
      await this.#underLocks(connection, held, ceilings, call, settle, (name) =>
        this.#host.onStep?.(name, {
          threadId: connection.threadId,
          ids: held.map((seed) => seed.conversation.id),
        }),
      );
    } finally {
      if (!broken && held.length > 0) {
        const names = held.map((seed) => seed.lock);
        await call("unlock", () =>
          connection.query(`SELECT ${names.map(() => "RELEASE_LOCK(?)").join(", ")}`, names),
        ).catch(() => {});
      }
      if (broken) connection.destroy();
      else connection.release();
    }
  }

  /** Runs the held seeds' works; their reserve calls meet in transactions (one at a time). */
  async #underLocks(
    connection: PoolConnection,
    held: readonly Seed[],
    ceilings: Map<string, number>,
    call: <R>(what: string, run: () => Promise<R>) => Promise<R>,
    settle: (seed: Seed, outcome: { value: unknown } | { error: unknown }) => void,
    step: (name: "reserving" | "committed") => void | Promise<void>,
  ): Promise<void> {
    let live = held.length;
    let asks: Ask[] = [];
    let failed: unknown;
    const flush = () => {
      // Only when every live work waits on reserve: then no transaction is in flight on the connection.
      if (asks.length === 0 || asks.length < live) return;
      const batch = asks;
      asks = [];
      if (failed !== undefined) {
        for (const ask of batch) ask.reject(failed);
        return;
      }
      call("reserve", async () => {
        await step("reserving");
        const results = await writeCeilings(connection, batch, ceilings);
        await step("committed");
        return results;
      }).then(
        (results) => {
          for (const [i, result] of results.entries()) {
            const ask = batch[i]!;
            if (result instanceof EpochFencedError) ask.reject(result);
            else {
              this.#host.onReserve?.(ask.conversation, result);
              ask.resolve(result);
            }
          }
        },
        (error: unknown) => {
          // Nothing of it counts as committed: no work gets a reservation, none writes to Redis.
          failed = error;
          for (const ask of batch) ask.reject(error);
        },
      );
    };
    await Promise.all(
      held.map(async (seed) => {
        const reserve: Reserve = (conversation, epoch, target) =>
          new Promise((resolve, reject) => {
            // Only its own conversation's ceiling was read under a lock held here.
            if (conversation.id !== seed.conversation.id) {
              reject(new Error(`a seed of ${seed.conversation.id} reserved for ${conversation.id}`));
              return;
            }
            asks.push({ conversation, epoch, target, resolve, reject });
            flush();
          });
        let outcome: { value: unknown } | { error: unknown };
        try {
          outcome = { value: await seed.work(reserve) };
        } catch (error) {
          outcome = { error };
        }
        live -= 1;
        flush();
        // Answered as soon as its numbers are in Redis; the locks go when the whole batch is done.
        settle(seed, outcome);
      }),
    );
  }
}
