import { afterAll, describe, expect, it } from "vitest";
import { pairForTests } from "../../../testing/differential/exchange.js";
import {
  checkEquivalence,
  misrouted,
  newReport,
  PROPERTY_TIMEOUT_MS,
  summary,
} from "../../../testing/differential/property.js";
import type { ServiceName } from "../../../testing/differential/server-pair.js";

/** Fixed, so a failure replays; fast-check prints the seed, path and shrunk request on failure. */
const SEED = 20_261_202;
const RUNS: Record<ServiceName, number> = { registry: 450, sequence: 300 };

describe.each(["registry", "sequence"] as const)("the %s service over h2c", (service) => {
  const setup = pairForTests(service);
  const report = newReport();
  afterAll(() => {
    console.log(summary(`${service} h2c`, report));
  });

  it("answers every generated request on the lean path exactly as connectNodeAdapter does, with the same metrics, handler calls and log lines", {
    timeout: PROPERTY_TIMEOUT_MS,
  }, async () => {
    await checkEquivalence(setup.clients, { transport: "h2", numRuns: RUNS[service], seed: SEED, report });
  });

  it("served exactly the lean-eligible requests of that run on the lean path (rpc_lean_calls_total), so the comparison compared two paths", () => {
    expect(report.lean.length).toBeGreaterThan(0);
    expect(misrouted(report)).toEqual({ count: 0, first: [] });
  });
});
