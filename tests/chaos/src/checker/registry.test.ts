import { describe, expect, it } from "vitest";
import type { CallRecord } from "../history.js";
import { checkRegistry, type FinalLookup, LATE_EFFECT_MS } from "./registry.js";

let id = 0;
const call = (
  rpc: string,
  invokeMs: number,
  args: Record<string, unknown>,
  outcome: CallRecord["outcome"] = "ok",
  extra: Partial<CallRecord> = {},
): CallRecord => ({
  id: id++,
  worker: "gw-0",
  service: "registry",
  rpc,
  instance: 0,
  args,
  invokeMs,
  completeMs: invokeMs + 5,
  outcome,
  ...extra,
});
const device = { userId: "u", deviceId: "d", gatewayNode: "gw-0:9000" };
const register = (at: number, outcome: CallRecord["outcome"] = "ok") =>
  call("Register", at, { ...device, leaseId: "7" }, outcome);
const unregister = (at: number, outcome: CallRecord["outcome"] = "ok") =>
  call("Unregister", at, { ...device }, outcome);
const renew = (at: number) => call("Renew", at, { leaseId: "7" }, "ok", { result: { ttlSeconds: 60 } });
const final = (present: boolean, atMs = 100_000): FinalLookup[] => [
  { instance: 0, completeMs: atMs, entries: present ? [{ ...device, leaseId: "7" }] : [] },
];

describe("the registry checker", () => {
  it("reports an acknowledged registration missing at the end while its lease was kept alive", () => {
    const findings = checkRegistry([register(1_000), renew(99_000)], final(false));
    expect(findings.violations[0]).toMatch(/^lost: u\/d/);
  });

  it("does not expect a device whose lease no acknowledged Renew proves alive", () => {
    const findings = checkRegistry([register(1_000)], final(false));
    expect(findings.violations).toEqual([]);
    expect(findings.unchecked).toEqual({ "lease not provably alive": 1 });
  });

  it("ignores refused writes after the last acknowledged one, and checks nothing after an indeterminate one", () => {
    expect(
      checkRegistry([register(1_000), unregister(2_000, "fail"), renew(99_000)], final(false)).violations,
    ).toHaveLength(1);
    expect(
      checkRegistry([register(1_000), unregister(2_000, "indeterminate"), renew(99_000)], final(false))
        .violations,
    ).toEqual([]);
  });

  it("allows an indeterminate Unregister to land after a later acknowledged Register, for a while", () => {
    const late = checkRegistry(
      [unregister(1_000, "indeterminate"), register(2_000), renew(99_000)],
      final(false),
    );
    expect(late.violations).toEqual([]);
    const settled = checkRegistry(
      [unregister(1_000, "indeterminate"), register(2_000 + LATE_EFFECT_MS), renew(99_000)],
      final(false),
    );
    expect(settled.violations).toHaveLength(1);
  });

  it("reports a device acknowledged as unregistered that is back at the end", () => {
    const findings = checkRegistry([register(1_000), unregister(2_000), renew(99_000)], final(true));
    expect(findings.violations[0]).toMatch(/^resurrected/);
  });
});
