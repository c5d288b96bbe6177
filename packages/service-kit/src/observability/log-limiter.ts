import type { Logger } from "../logger.js";

export type LimitedLevel = "warn" | "error";

export interface LogLimits {
  windowMs: number;
  /** Lines of one kind written per window at each level; the rest are only counted. */
  linesPerWindow: Record<LimitedLevel, number>;
}

interface Window {
  readonly startedAt: number;
  written: number;
  suppressed: number;
}

/**
 * Caps lines of one kind (a key such as an RPC and its code) per window, so that a caller cannot flood
 * the logs by repeating a failing call: past the cap, lines are counted, and when the window ends one
 * line says how many were suppressed. The caller keeps the keys few (a service's methods × codes), since
 * a key's window lives until it ends.
 */
export class LogLimiter {
  readonly #windows = new Map<string, Window>();

  constructor(
    private readonly logger: Logger,
    private readonly limits: LogLimits,
  ) {}

  /** Writes `fields` and `message` at `level` unless `key` used up its lines; `about` names the kind. */
  write(
    level: LimitedLevel,
    key: string,
    about: Record<string, unknown>,
    fields: Record<string, unknown>,
    message: string,
  ): void {
    const now = performance.now();
    let window = this.#windows.get(key);
    if (window === undefined || now - window.startedAt >= this.limits.windowMs) {
      window = { startedAt: now, written: 0, suppressed: 0 };
      this.#windows.set(key, window);
    }
    if (window.written < this.limits.linesPerWindow[level]) {
      window.written += 1;
      this.logger[level](fields, message);
      return;
    }
    window.suppressed += 1;
    if (window.suppressed === 1) this.#summarizeAtEnd(level, key, about, window);
  }

  #summarizeAtEnd(level: LimitedLevel, key: string, about: Record<string, unknown>, window: Window): void {
    const timer = setTimeout(
      () => {
        if (this.#windows.get(key) === window) this.#windows.delete(key);
        const kind = level === "error" ? "errors" : "warnings";
        this.logger[level](
          { ...about, suppressed: window.suppressed, windowMs: this.limits.windowMs },
          `suppressed ${window.suppressed} similar ${kind}`,
        );
      },
      Math.max(0, window.startedAt + this.limits.windowMs - performance.now()),
    );
    // A pending summary never keeps a process alive.
    timer.unref();
  }
}
