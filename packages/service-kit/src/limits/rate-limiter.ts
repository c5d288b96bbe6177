import { Code, ConnectError } from "@connectrpc/connect";

/**
 * Token buckets, one per key (a caller's token): `ratePerSecond` tokens refill each second, up to `burst`.
 * Keys are the configured tokens, so the number of buckets is bounded by the configuration.
 */
export class RateLimiter {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    readonly ratePerSecond: number,
    readonly burst: number,
  ) {}

  /** Takes one token for `key`: 0 when there was one, else the milliseconds until there will be. */
  take(key: string): number {
    const wait = this.wait(key);
    if (wait === 0) this.charge(key);
    return wait;
  }

  /** The milliseconds until `key` has a token (0: it has one now), taking none. */
  wait(key: string): number {
    const bucket = this.#refilled(key);
    return bucket.tokens >= 1 ? 0 : Math.ceil(((1 - bucket.tokens) / this.ratePerSecond) * 1_000);
  }

  /**
   * Takes one token for work already done, into debt if need be (then `wait` answers longer). For work
   * whose cost is only known afterwards: `wait` before it, `charge` once it proved to count.
   */
  charge(key: string): void {
    this.#refilled(key).tokens -= 1;
  }

  #refilled(key: string): { tokens: number; at: number } {
    const now = performance.now();
    let bucket = this.#buckets.get(key);
    if (!bucket) {
      bucket = { tokens: this.burst, at: now };
      this.#buckets.set(key, bucket);
    }
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) / 1_000) * this.ratePerSecond);
    bucket.at = now;
    return bucket;
  }
}

/** RESOURCE_EXHAUSTED for a caller over its rate, telling it when to retry (also as `retry-after-ms`). */
export function rateLimited(what: string, retryAfterMs: number): ConnectError {
  return new ConnectError(
    `${what}: this caller's limit is reached; retry in ${retryAfterMs} ms`,
    Code.ResourceExhausted,
    { "retry-after-ms": String(retryAfterMs) },
  );
}
