import { withDeadline } from "@im-core/common";

/** A backend the service needs; `check` rejects when it is unreachable. */
export interface ReadinessCheck {
  readonly name: string;
  check(signal: AbortSignal): Promise<void>;
}

export interface ReadinessReport {
  ready: boolean;
  checks: Record<string, string>;
}

/** Runs every check in parallel, each bounded by `timeoutMs`, and reports which backends are down. */
export async function checkReadiness(
  checks: readonly ReadinessCheck[],
  timeoutMs: number,
): Promise<ReadinessReport> {
  const results = await Promise.all(
    checks.map(async ({ name, check }) => {
      const abort = new AbortController();
      try {
        await withDeadline(check(abort.signal), timeoutMs, () => {
          abort.abort();
          return new Error(`no answer within ${timeoutMs} ms`);
        });
        return [name, "ok"] as const;
      } catch (error) {
        return [name, `unavailable: ${error instanceof Error ? error.message : String(error)}`] as const;
      }
    }),
  );
  return {
    ready: results.every(([, status]) => status === "ok"),
    checks: Object.fromEntries(results),
  };
}
