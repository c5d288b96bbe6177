import { describe, expect, it } from "vitest";
import type { CallRecord } from "../history.js";
import { checkSequence } from "./sequence.js";

let id = 0;
const next = (
  worker: string,
  invokeMs: number,
  completeMs: number,
  first: number,
  last: number,
  outcome: CallRecord["outcome"] = "ok",
): CallRecord => ({
  id: id++,
  worker,
  service: "sequence",
  rpc: "Next",
  instance: 0,
  args: { conversation: "g:a", count: last - first + 1 },
  invokeMs,
  completeMs,
  outcome,
  ...(outcome === "ok" ? { result: { first, last } } : { code: "unavailable" }),
});

describe("the sequence checker", () => {
  it("accepts increasing disjoint ranges and reports the largest gap", () => {
    const findings = checkSequence([
      next("w0", 0, 1, 1, 2),
      next("w1", 0, 2, 3, 3),
      next("w0", 2, 3, 10_004, 10_005),
    ]);
    expect(findings.violations).toEqual([]);
    expect(findings.maxJump).toMatchObject({ from: 3, to: 10_004, jump: 10_001 });
  });

  it("reports a number acknowledged twice, even to concurrent calls of different workers", () => {
    const findings = checkSequence([next("w0", 0, 5, 1, 3), next("w1", 1, 4, 3, 4)]);
    expect(findings.violations.some((v) => v.includes("duplicate numbers"))).toBe(true);
  });

  it("reports a worker whose later call got lower numbers", () => {
    const findings = checkSequence([next("w0", 0, 1, 5, 5), next("w1", 0, 9, 1, 1), next("w0", 2, 3, 2, 2)]);
    expect(findings.violations.some((v) => v.includes("w0 went backwards"))).toBe(true);
  });

  it("reports a range below one acknowledged before it was asked for, on another worker", () => {
    const findings = checkSequence([next("w0", 0, 1, 5, 5), next("w1", 2, 3, 4, 4)]);
    expect(findings.violations.some((v) => v.includes("acknowledged before it was asked for"))).toBe(true);
  });

  it("takes nothing from failed or indeterminate calls", () => {
    const findings = checkSequence([next("w0", 0, 1, 1, 1), next("w0", 2, 3, 1, 1, "indeterminate")]);
    expect(findings.violations).toEqual([]);
    expect(findings.ranges).toBe(1);
  });
});
