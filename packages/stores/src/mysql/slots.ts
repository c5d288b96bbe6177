import { StoreError } from "@im-core/common";

interface Waiter {
  grant(): void;
  fail(error: unknown): void;
}

/**
 * A counting semaphore for pooled connections held across several steps (a reservation holds one
 * for its lock). Callers beyond `limit` wait here instead of in the driver's bounded queue, so our own
 * concurrency never overflows it. Waiters are grouped by a key (the caller's token): a freed slot
 * goes to the keys in turn, each key's waiters in arrival order, so one caller's flood only ever
 * queues behind itself. A wait ends early when the caller's `signal` aborts (its deadline passed, it
 * was cancelled), and `failWaiting` lets a caller that found the server unreachable fail everyone still
 * waiting, instead of them trying one by one. Every step is O(1), however many wait.
 */
export class Slots {
  readonly #limit: number;
  #inUse = 0;
  #waitingCount = 0;
  /** Waiters per key; the Map's order is the order in which keys get their turns. */
  readonly #queues = new Map<unknown, Set<Waiter>>();

  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`slot limit must be ≥ 1, got ${limit}`);
    this.#limit = limit;
  }

  get limit(): number {
    return this.#limit;
  }

  /** Slots held right now (tests, metrics). */
  get inUse(): number {
    return this.#inUse;
  }

  /** Callers waiting for a slot right now. */
  get waiting(): number {
    return this.#waitingCount;
  }

  /**
   * Resolves with a release function once a slot is free; rejects with the signal's reason on abort.
   * Callers with different `key`s take turns (undefined is a key like any other).
   */
  acquire(signal?: AbortSignal, key?: unknown): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    if (this.#inUse < this.#limit && this.#waitingCount === 0) {
      this.#inUse += 1;
      return Promise.resolve(this.#releaser());
    }
    return new Promise((resolve, reject) => {
      let queue = this.#queues.get(key);
      if (!queue) {
        queue = new Set();
        this.#queues.set(key, queue);
      }
      const leave = () => {
        signal?.removeEventListener("abort", onAbort);
        queue.delete(waiter);
        this.#waitingCount -= 1;
        if (queue.size === 0 && this.#queues.get(key) === queue) this.#queues.delete(key);
      };
      const onAbort = () => {
        leave();
        reject(abortReason(signal!));
      };
      const waiter: Waiter = {
        grant: () => {
          leave();
          resolve(this.#releaser());
        },
        fail: (error) => {
          leave();
          reject(error);
        },
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      queue.add(waiter);
      this.#waitingCount += 1;
    });
  }

  /** Fails every caller waiting right now (not those arriving later) with `error`. */
  failWaiting(error: unknown): void {
    const queues = [...this.#queues.values()];
    for (const queue of queues) for (const waiter of [...queue]) waiter.fail(error);
  }

  /** The first waiter of the key whose turn it is; that key goes to the back of the turns. */
  #nextWaiter(): Waiter | undefined {
    for (const [key, queue] of this.#queues) {
      const [first] = queue;
      this.#queues.delete(key);
      if (queue.size > 1) this.#queues.set(key, queue);
      return first;
    }
    return undefined;
  }

  #releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#nextWaiter();
      // The slot passes straight to the next waiter: nobody can overtake the turns.
      if (next) next.grant();
      else this.#inUse -= 1;
    };
  }
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new StoreError("unavailable", "aborted while waiting for a MySQL connection");
}
