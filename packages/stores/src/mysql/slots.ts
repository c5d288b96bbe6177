import { StoreError } from "@im-core/common";

interface Waiter {
  grant(): void;
  fail(error: unknown): void;
}

/**
 * A counting semaphore for pooled connections held across several steps (a reservation holds one
 * for its lock). Callers beyond `limit` wait here, in arrival order, instead of in the driver's
 * bounded queue, so our own concurrency never overflows it. A wait ends early when the caller's
 * `signal` aborts (its deadline passed, it was cancelled), and `failWaiting` lets a caller that
 * found the server unreachable fail everyone still waiting, instead of them trying one by one.
 */
export class Slots {
  readonly #limit: number;
  #inUse = 0;
  readonly #waiting: Waiter[] = [];

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
    return this.#waiting.length;
  }

  /** Resolves with a release function once a slot is free; rejects with the signal's reason on abort. */
  acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    if (this.#inUse < this.#limit && this.#waiting.length === 0) {
      this.#inUse += 1;
      return Promise.resolve(this.#releaser());
    }
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        const i = this.#waiting.indexOf(waiter);
        if (i >= 0) this.#waiting.splice(i, 1);
        reject(abortReason(signal!));
      };
      const waiter: Waiter = {
        grant: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve(this.#releaser());
        },
        fail: (error) => {
          signal?.removeEventListener("abort", onAbort);
          reject(error);
        },
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#waiting.push(waiter);
    });
  }

  /** Fails every caller waiting right now (not those arriving later) with `error`. */
  failWaiting(error: unknown): void {
    for (const waiter of this.#waiting.splice(0)) waiter.fail(error);
  }

  #releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiting.shift();
      // The slot passes straight to the next waiter: nobody can overtake the queue.
      if (next) next.grant();
      else this.#inUse -= 1;
    };
  }
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new StoreError("unavailable", "aborted while waiting for a MySQL connection");
}
