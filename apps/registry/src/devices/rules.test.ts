import type { DeviceEntry } from "@im-core/stores/etcd";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type DevicePolicy, decideRegistration } from "./rules.js";

const devicesArb = fc
  .uniqueArray(fc.record({ deviceId: fc.string({ maxLength: 3 }), modRevision: fc.nat(1_000) }), {
    selector: (d) => d.deviceId,
    maxLength: 8,
  })
  .map((devices) =>
    devices.map(
      (d): DeviceEntry => ({ ...d, userId: "u", gatewayNode: "gw", connectedAtMs: 0, leaseId: 1n }),
    ),
  );

describe("the device rules", () => {
  it("accept a known device always, a new one within the limit, and beyond it reject or evict the oldest", () => {
    fc.assert(
      fc.property(
        devicesArb,
        fc.string({ maxLength: 3 }),
        fc.integer({ min: 1, max: 6 }),
        fc.constantFrom<DevicePolicy>("reject", "evict_oldest"),
        (devices, deviceId, maxDevices, policy) => {
          const decision = decideRegistration(devices, deviceId, { maxDevices, policy });
          const known = devices.some((d) => d.deviceId === deviceId);
          if (known || devices.length < maxDevices) {
            expect(decision).toEqual({ accept: true, evict: [] });
            return;
          }
          if (policy === "reject") {
            expect(decision.accept).toBe(false);
            return;
          }
          if (!decision.accept) throw new Error("evict_oldest never refuses");
          // Exactly the limit afterwards, and nobody kept is older than anybody evicted.
          expect(devices.length + 1 - decision.evict.length).toBe(maxDevices);
          const kept = devices.filter((d) => !decision.evict.includes(d));
          for (const evicted of decision.evict) {
            for (const other of kept) expect(other.modRevision).toBeGreaterThanOrEqual(evicted.modRevision);
          }
        },
      ),
    );
  });
});
