/**
 * How long to wait before retry number `attempt` (0 for the first retry): `baseMs · 2^attempt`, at
 * most `maxMs`, scaled by a random factor in [0.5, 1.5) so that many clients that failed together do
 * not come back together. The one retry delay of the code base: etcd calls, the mirror's reload and
 * resume loops, Redis reconnects.
 */
export function backoff(attempt: number, baseMs: number, maxMs: number): number {
  return Math.min(baseMs * 2 ** Math.max(0, attempt), maxMs) * (0.5 + Math.random());
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
