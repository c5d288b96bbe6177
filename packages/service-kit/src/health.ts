import { withDeadline } from "@im-core/common";

/** A backend the service needs. */
export interface ReadinessCheck {
  readonly name: string;
  /** Asks the backend through this instance's own client (its connection or pool); rejects without an answer. */
  check(signal: AbortSignal): Promise<void>;
  /**
   * Asks the same over a connection made for the purpose, only when `check` failed. An answer means the
   * backend serves and this instance's connection does not: another instance would do better, so this
   * one is not ready. No answer either means an outage every instance shares: the instance stays ready,
   * degraded, and keeps answering what it can. Without it, a failed check counts as shared.
   */
  fresh?(signal: AbortSignal): Promise<void>;
}

/**
 * `ok`: every backend answers. `degraded`: a backend every instance shares is down; the instance still
 * serves what does not need it (ready). `not_ready`: this instance's own connection to a backend is
 * broken (another instance would do better). `draining`: shutting down.
 */
export type ReadinessStatus = "ok" | "degraded" | "not_ready" | "draining";

export interface ReadinessReport {
  ready: boolean;
  status: ReadinessStatus;
  /** Per backend: `ok`, `unavailable: <why>` (shared outage), or `own connection broken: <why>`. */
  checks: Record<string, string>;
}

const OWN_CONNECTION_BROKEN = "own connection broken";

/** Whether a report's entry for one backend says it answers. */
export const backendAnswers = (state: string | undefined) => state === "ok";

/**
 * Runs every check in parallel, each bounded by `timeoutMs` (and, when it fails, its fresh check by as
 * much again), and reports by the rule above.
 */
export async function checkReadiness(
  checks: readonly ReadinessCheck[],
  timeoutMs: number,
): Promise<ReadinessReport> {
  const results = await Promise.all(
    checks.map(async (check) => {
      const failure = await failureOf(check.check.bind(check), timeoutMs);
      if (failure === undefined) return [check.name, "ok"] as const;
      const own = check.fresh && (await failureOf(check.fresh.bind(check), timeoutMs)) === undefined;
      return [check.name, `${own ? OWN_CONNECTION_BROKEN : "unavailable"}: ${failure}`] as const;
    }),
  );
  const states = results.map(([, state]) => state);
  const status: ReadinessStatus = states.some((state) => state.startsWith(OWN_CONNECTION_BROKEN))
    ? "not_ready"
    : states.every(backendAnswers)
      ? "ok"
      : "degraded";
  return { ready: status !== "not_ready", status, checks: Object.fromEntries(results) };
}

/** Undefined when `ask` answered within `timeoutMs`, else why not. */
async function failureOf(ask: (signal: AbortSignal) => Promise<void>, timeoutMs: number) {
  const abort = new AbortController();
  try {
    await withDeadline(ask(abort.signal), timeoutMs, () => {
      abort.abort();
      return new Error(`no answer within ${timeoutMs} ms`);
    });
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}
