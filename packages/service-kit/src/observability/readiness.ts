import { checkReadiness, type ReadinessCheck, type ReadinessReport } from "../health.js";

export interface CachedReadinessOptions {
  /** Each probe's checks are bounded by this (a check that has not answered by then reports so). */
  timeoutMs: number;
  /** Pause between the end of one probe and the start of the next. */
  refreshMs: number;
  /** Told of each probe whose report differs from the one before (logs, metrics). */
  onChange?: (report: ReadinessReport, previous: ReadinessReport | undefined) => void;
}

/**
 * Readiness answered from the last probe, never from a backend query per request: `/readyz` and gRPC
 * health are open to anyone, and a probe per request let a flood of them take the pool's connections
 * from real calls and report the service not ready.
 *
 * The first `report()` starts the probing and waits for the first probe; from then on one probe runs at
 * a time, `refreshMs` after the previous one ended, until `close()`. Probing always (rather than only
 * while someone asks) costs each backend about one query per second, keeps every answer at most
 * `refreshMs` + `timeoutMs` old, and never makes a caller wait after an idle spell.
 */
export class CachedReadiness {
  readonly #checks: readonly ReadinessCheck[];
  #latest: Promise<ReadinessReport> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(
    checks: readonly ReadinessCheck[],
    private readonly options: CachedReadinessOptions,
  ) {
    this.#checks = checks.map(oneRunAtATime);
  }

  /** The last probe's report (the first one is waited for). */
  report(): Promise<ReadinessReport> {
    this.#latest ??= this.#probe();
    return this.#latest;
  }

  /** Stops the probing; `report()` keeps answering the last result. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
  }

  #last: ReadinessReport | undefined;

  async #probe(): Promise<ReadinessReport> {
    const report = await checkReadiness(this.#checks, this.options.timeoutMs);
    this.#latest = Promise.resolve(report);
    if (JSON.stringify(report) !== JSON.stringify(this.#last)) this.options.onChange?.(report, this.#last);
    this.#last = report;
    if (!this.#closed) {
      this.#timer = setTimeout(() => void this.#probe(), this.options.refreshMs);
      // Probing alone never keeps a process alive.
      this.#timer.unref();
    }
    return report;
  }
}

/**
 * A check whose last run has not settled yet is waited for again instead of being started again: a
 * backend call that ignores the abort (a MySQL pool query) then never has a second readiness query
 * queued behind a hung one.
 */
function oneRunAtATime(check: ReadinessCheck): ReadinessCheck {
  const once = (ask: (signal: AbortSignal) => Promise<void>) => {
    let running: Promise<void> | undefined;
    return (signal: AbortSignal) => {
      running ??= ask(signal).finally(() => {
        running = undefined;
      });
      return running;
    };
  };
  const { fresh } = check;
  return {
    name: check.name,
    check: once((signal) => check.check(signal)),
    ...(fresh ? { fresh: once((signal) => fresh.call(check, signal)) } : {}),
  };
}
