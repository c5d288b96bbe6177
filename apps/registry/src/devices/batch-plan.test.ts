import type { DeviceEntry } from "@im-core/stores/etcd";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { planUser } from "./batch-plan.js";

const TARGET = { gatewayNode: "gw-new", leaseId: 9n };
const ids = fc.constantFrom("a", "b", "c", "d", "e", "f");

/** A user's stored devices: some already on the batch's node and lease, some elsewhere. */
const viewArb = fc
  .uniqueArray(
    fc.record({ deviceId: ids, modRevision: fc.integer({ min: 1, max: 99 }), here: fc.boolean() }),
    {
      selector: (d) => d.deviceId,
      maxLength: 5,
    },
  )
  .map((devices) =>
    devices.map(
      ({ here, ...d }): DeviceEntry => ({
        ...d,
        userId: "u",
        gatewayNode: here ? TARGET.gatewayNode : "gw-old",
        connectedAtMs: 0,
        leaseId: here ? TARGET.leaseId : 1n,
      }),
    ),
  );

describe("planning one user's devices of a batch", () => {
  it("never leaves the user over the limit, and every stored device either stays, moves or is reported evicted", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.constantFrom("reject" as const, "evict_oldest" as const),
        viewArb,
        fc.uniqueArray(ids, { minLength: 1, maxLength: 6 }),
        (maxDevices, policy, stored, batch) => {
          fc.pre(stored.length <= maxDevices);
          const devices = batch.map((deviceId, index) => ({ index, userId: "u", deviceId }));
          const plan = planUser({ revision: 100, entries: stored }, devices, TARGET, { maxDevices, policy });
          // Apply the txn as etcd would.
          const after = new Map(stored.map((e) => [e.deviceId, e.gatewayNode]));
          for (const e of plan.write.evict) after.delete(e.deviceId);
          for (const id of plan.write.put) after.set(id, TARGET.gatewayNode);
          expect(after.size).toBeLessThanOrEqual(maxDevices);
          // etcd refuses a put and a delete of one key in one txn.
          expect(plan.write.evict.filter((e) => plan.write.put.includes(e.deviceId))).toEqual([]);

          const reported = new Set<string>();
          for (const [index, outcome] of plan.outcomes) {
            const id = batch[index]!;
            if (outcome.ok) {
              expect(after.get(id)).toBe(TARGET.gatewayNode);
              for (const e of outcome.evicted) reported.add(e.deviceId);
            } else if (policy === "evict_oldest") {
              expect(outcome.message).toContain("evicted by");
            }
          }
          for (const e of stored) {
            expect(after.has(e.deviceId) || reported.has(e.deviceId), `${e.deviceId} vanished`).toBe(true);
          }
          // Entries already in place are checked by the txn's compare, not rewritten.
          for (const kept of plan.write.keep) expect(plan.write.put).not.toContain(kept.deviceId);
        },
      ),
      { numRuns: 2_000 },
    );
  });
});
