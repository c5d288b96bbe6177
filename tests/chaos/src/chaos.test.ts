import { expect, test } from "vitest";
import { formatReport } from "./report.js";
import { runChaos } from "./run.js";

/**
 * The short schedule of `pnpm chaos`, as part of the test suite: a minute of workload over both services
 * with an in-place Redis rollback, a FLUSHALL, an etcd leader kill and a registry instance SIGKILLed (its
 * Watch streams resume on the other instance). Only the verdict is asserted: no timing.
 * CHAOS_SEED replays another seed.
 */
test("a short nemesis schedule leaves a clean history: no duplicate number, no lost registration, no missed Watch event", async () => {
  const seed = Number(process.env.CHAOS_SEED ?? 20261202);
  const result = await runChaos({
    seed,
    durationMs: 60_000,
    faults: ["redis-rollback", "etcd-leader-kill", "service-kill@registry", "redis-flushall"],
    maxHoldMs: 3_000,
    gapMs: [6_000, 9_000],
    log: (line) => console.log(line),
  });
  const report = formatReport(result);
  console.log(report);
  expect(result.history.faults.map((f) => f.error).filter(Boolean)).toEqual([]);
  expect(result.verdict.ok, report).toBe(true);
});
