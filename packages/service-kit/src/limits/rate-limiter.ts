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
    const now = performance.now();
    const bucket = this.#buckets.get(key) ?? { tokens: this.burst, at: now };
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) / 1_000) * this.ratePerSecond);
    bucket.at = now;
    this.#buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - bucket.tokens) / this.ratePerSecond) * 1_000);
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
