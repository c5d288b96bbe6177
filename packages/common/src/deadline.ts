/**
 * Settles as `work` does, unless `timeoutMs` passes or `signal` aborts first: then it rejects with
 * `onTimeout()` at once (`work` goes on, its outcome ignored). The timer and the abort listener are
 * removed as soon as either side wins, so nothing outlives the race. The one promise-with-deadline of
 * the code base: backend calls, readiness checks, the server's default call deadline.
 */
export function withDeadline<T>(
  work: Promise<T>,
  timeoutMs: number,
  onTimeout: () => unknown,
  signal?: AbortSignal,
): Promise<T> {
  if (timeoutMs <= 0 || signal?.aborted) {
    work.catch(() => {});
    return Promise.reject(onTimeout());
  }
  return new Promise<T>((resolve, reject) => {
    const expire = () => {
      settle();
      reject(onTimeout());
    };
    const timer = setTimeout(expire, timeoutMs);
    signal?.addEventListener("abort", expire, { once: true });
    function settle() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", expire);
    }
    work.then(
      (value) => {
        settle();
        resolve(value);
      },
      (error: unknown) => {
        settle();
        reject(error);
      },
    );
  });
}
