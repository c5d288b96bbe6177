import type { CallRecord, FaultRecord } from "../history.js";

export interface Outage {
  service: "registry" | "sequence";
  fromMs: number;
  toMs: number;
  /** The fault injected last before the outage began, if any. */
  fault?: string;
}

/**
 * Periods longer than `minMs` in which a service acknowledged no call at all (every worker's calls
 * counted), within the workload's window.
 */
export function findOutages(
  calls: readonly CallRecord[],
  faults: readonly FaultRecord[],
  window: { fromMs: number; toMs: number },
  minMs = 1_000,
): Outage[] {
  const outages: Outage[] = [];
  for (const service of ["registry", "sequence"] as const) {
    const oks = calls
      .filter(
        (c) =>
          c.service === service &&
          c.outcome === "ok" &&
          c.completeMs >= window.fromMs &&
          c.completeMs <= window.toMs,
      )
      .map((c) => c.completeMs)
      .sort((a, b) => a - b);
    let previous = window.fromMs;
    for (const at of [...oks, window.toMs]) {
      if (at - previous > minMs) {
        const fault = [...faults].reverse().find((f) => f.injectMs <= previous + minMs);
        outages.push({
          service,
          fromMs: previous,
          toMs: at,
          ...(fault ? { fault: `${fault.kind} at ${(fault.injectMs / 1000).toFixed(1)} s` } : {}),
        });
      }
      previous = at;
    }
  }
  return outages.sort((a, b) => a.fromMs - b.fromMs);
}
