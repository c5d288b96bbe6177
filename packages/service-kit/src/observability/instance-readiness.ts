import { backendAnswers, type ReadinessCheck, type ReadinessReport } from "../health.js";
import type { Logger } from "../logger.js";
import type { ServiceMetrics } from "./metrics.js";
import { CachedReadiness } from "./readiness.js";

/** "ok", "unavailable" or "own connection broken": a backend state without its details. */
const kindOf = (state: string) => state.split(":")[0];

const DRAINING: ReadinessReport = { ready: false, status: "draining", checks: {} };

/**
 * The one readiness of an instance, answered by `/readyz`, gRPC health and the `ready` and
 * `backend_up` metrics alike: the last background probe, or "draining" once shutdown began. Changes are
 * logged once each (a backend lost, back, this instance's own connection broken), not per probe.
 */
export function instanceReadiness(
  checks: readonly ReadinessCheck[],
  options: {
    timeoutMs: number;
    refreshMs: number;
    draining: AbortSignal;
    logger: Logger;
    metrics: ServiceMetrics;
  },
) {
  const { logger, metrics, draining } = options;
  const probe = new CachedReadiness(checks, {
    timeoutMs: options.timeoutMs,
    refreshMs: options.refreshMs,
    onChange(report, previous) {
      // A probe that ends after shutdown began changes nothing: the instance stays not ready.
      if (draining.aborted) return;
      metrics.ready.set(report.ready ? 1 : 0);
      for (const [backend, state] of Object.entries(report.checks)) {
        metrics.backendUp.set({ backend }, backendAnswers(state) ? 1 : 0);
        // Logged when the kind of state changes (ok, unavailable, own connection broken), not its wording.
        if (kindOf(state) === kindOf(previous?.checks[backend] ?? "ok")) continue;
        if (backendAnswers(state)) logger.info({ backend }, `${backend} answers again`);
        else logger.warn({ backend, state, readiness: report.status }, `${backend}: ${state}`);
      }
    },
  });
  return {
    report(): Promise<ReadinessReport> {
      return draining.aborted ? Promise.resolve(DRAINING) : probe.report();
    },
    /** Whether one backend answered the last probe (gRPC health by backend name). */
    async backendServing(name: string): Promise<boolean> {
      return backendAnswers((await probe.report()).checks[name]);
    },
    close(): void {
      metrics.ready.set(0);
      probe.close();
    },
  };
}
