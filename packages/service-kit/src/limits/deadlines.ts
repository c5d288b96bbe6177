/**
 * Things that must be done within one timeout of being tracked: request bodies (REQUEST_BODY_TIMEOUT_MS),
 * calls without a client deadline (DEFAULT_CALL_TIMEOUT_MS). Every one gets the same time, so the first
 * still tracked is the first due: one timer, set for that one, serves all of them, and tracking or
 * forgetting one is a Map insert or delete. A timer and two `once` listeners per request were a
 * measurable part of a unary call's CPU (bench/results/2026-12-02-connect-path-cost.md).
 */
export class Deadlines<Request extends object> {
  /** When each tracked one is due (performance.now() ms), in the order they were tracked. */
  readonly #due = new Map<Request, number>();
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly timeoutMs: number,
    /** Called for one still tracked when its time is up (it decides whether it is late). */
    private readonly expire: (request: Request) => void,
  ) {}

  track(request: Request): void {
    this.#due.set(request, performance.now() + this.timeoutMs);
    this.#timer ??= this.#arm(this.timeoutMs);
  }

  /** Done in time, or gone: nothing left to cut. */
  forget(request: Request): void {
    this.#due.delete(request);
  }

  readonly #sweep = (): void => {
    this.#timer = undefined;
    const now = performance.now();
    for (const [request, due] of this.#due) {
      if (due > now) {
        this.#timer = this.#arm(due - now);
        return;
      }
      this.#due.delete(request);
      this.expire(request);
    }
  };

  #arm(ms: number): NodeJS.Timeout {
    const timer = setTimeout(this.#sweep, ms);
    // Open connections keep a server's process alive; something still due is no reason to.
    timer.unref();
    return timer;
  }
}
