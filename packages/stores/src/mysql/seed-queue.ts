import { StoreError } from "@im-core/common";

/** A seed waiting for a batch. */
export interface QueuedSeed {
  /** Its MySQL lock's name: a batch never holds one name twice. */
  readonly lock: string;
  /** What its row adds to a statement, at most (escaping included). */
  readonly bytes: number;
  /** Who asks (the caller's token): seeds of different turns take turns for places in a batch. */
  readonly turn: unknown;
  /** Asked before the seed's first MySQL work; one that refuses is never taken into a batch. */
  readonly admit: (() => void) | undefined;
  /** Ends the wait (everyone the seed was for gave up). */
  readonly signal: AbortSignal | undefined;
  /** Answers the seed without any MySQL work: it gave up, was refused, or MySQL is unreachable. */
  fail(error: unknown): void;
}

export interface BatchLimits {
  /** Rows per batch: per statement, and conversation locks held on one connection. */
  readonly rows: number;
  /** Bytes of row data per statement (the multi-row INSERT, the largest of a batch). */
  readonly bytes: number;
}

/**
 * The seeds waiting for a place in a batch, fair between turns and bounded per turn.
 *
 * Fairness: a batch is filled one seed per turn at a time, each turn's seeds in arrival order, so one
 * token's flood of new conversations only ever queues behind itself (as `Slots` does for single
 * reservations). Admission: a gated seed (one with `admit`) is asked only when it is taken, i.e. when its
 * turn for MySQL has come; and at most `perTurn` gated seeds of one turn are taken and not yet done. A
 * gate charges a seed only once MySQL created its row, so this is the bound on how far a token can
 * overshoot its limit, as the slots bounded it before seeds were batched. Ungated seeds (re-seeds of
 * counters from an older epoch, callers without a token) are not counted.
 */
export class SeedQueue<S extends QueuedSeed> {
  readonly #perTurn: number;
  /** Waiting seeds per turn; the Map's order is the order of the turns. */
  readonly #turns = new Map<unknown, Set<S>>();
  readonly #inFlight = new Map<unknown, number>();
  readonly #detach = new Map<S, () => void>();
  #size = 0;

  constructor(perTurn: number) {
    if (!Number.isInteger(perTurn) || perTurn < 1)
      throw new RangeError(`perTurn must be ≥ 1, got ${perTurn}`);
    this.#perTurn = perTurn;
  }

  /** Seeds waiting right now. */
  get size(): number {
    return this.#size;
  }

  /** Queues `seed`; it leaves (failed with the signal's reason) if its signal aborts first. */
  add(seed: S): void {
    if (seed.signal?.aborted) {
      seed.fail(abortReason(seed.signal));
      return;
    }
    let queue = this.#turns.get(seed.turn);
    if (!queue) {
      queue = new Set();
      this.#turns.set(seed.turn, queue);
    }
    queue.add(seed);
    this.#size += 1;
    const { signal } = seed;
    if (signal) {
      const onAbort = () => {
        this.#remove(seed);
        seed.fail(abortReason(signal));
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.#detach.set(seed, () => signal.removeEventListener("abort", onAbort));
    }
  }

  /**
   * Takes the next batch, within `limits`: one seed per turn in turn, skipping turns at their bound.
   * Seeds that gave up meanwhile, or whose gate refuses now, are answered and left out.
   */
  take(limits: BatchLimits): S[] {
    const taken: S[] = [];
    const locks = new Set<string>();
    let bytes = 0;
    for (let progressed = true; progressed && taken.length < limits.rows; ) {
      progressed = false;
      for (const [turn, queue] of [...this.#turns]) {
        if (taken.length >= limits.rows) break;
        const seed = this.#nextOf(turn, queue, locks);
        if (!seed) continue;
        if (taken.length > 0 && bytes + seed.bytes > limits.bytes) return taken;
        this.#remove(seed);
        try {
          seed.admit?.();
        } catch (refusal) {
          seed.fail(refusal);
          progressed = true;
          continue;
        }
        if (seed.admit) this.#inFlight.set(turn, (this.#inFlight.get(turn) ?? 0) + 1);
        taken.push(seed);
        locks.add(seed.lock);
        bytes += seed.bytes;
        progressed = true;
        // To the back of the turns.
        if (this.#turns.get(turn) === queue) {
          this.#turns.delete(turn);
          this.#turns.set(turn, queue);
        }
      }
    }
    return taken;
  }

  /** A taken seed is done (answered): its turn may have another one taken. */
  done(seed: S): void {
    if (!seed.admit) return;
    const left = (this.#inFlight.get(seed.turn) ?? 1) - 1;
    if (left > 0) this.#inFlight.set(seed.turn, left);
    else this.#inFlight.delete(seed.turn);
  }

  /** Fails every seed waiting right now (MySQL cannot be reached). */
  failAll(error: unknown): void {
    for (const queue of [...this.#turns.values()]) {
      for (const seed of [...queue]) {
        this.#remove(seed);
        seed.fail(error);
      }
    }
  }

  /** The turn's first seed if it may be taken now; gave-up seeds at its head are answered. */
  #nextOf(turn: unknown, queue: Set<S>, locks: ReadonlySet<string>): S | undefined {
    for (const seed of queue) {
      if (seed.signal?.aborted) {
        this.#remove(seed);
        seed.fail(abortReason(seed.signal));
        continue;
      }
      if (seed.admit && (this.#inFlight.get(turn) ?? 0) >= this.#perTurn) return undefined;
      // Two ids sharing a lock name (never for SHA-256 ids): the second waits for the next batch.
      return locks.has(seed.lock) ? undefined : seed;
    }
    return undefined;
  }

  #remove(seed: S): void {
    const queue = this.#turns.get(seed.turn);
    if (!queue?.delete(seed)) return;
    this.#size -= 1;
    this.#detach.get(seed)?.();
    this.#detach.delete(seed);
    if (queue.size === 0) this.#turns.delete(seed.turn);
  }
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new StoreError("unavailable", "aborted while waiting for a MySQL connection");
}
