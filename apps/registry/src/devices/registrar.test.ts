import { idArb, kindOf } from "@im-core/testkit";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { registriesOnOneEtcd } from "../testing/registry.js";

const backend = registriesOnOneEtcd();

const where = (entries: readonly { userId: string; deviceId: string; gatewayNode: string }[]) =>
  entries.map((e) => `${e.userId}/${e.deviceId}@${e.gatewayNode}`).sort();

describe.concurrent("registering devices under the device rules (real etcd)", () => {
  it("rejects a device beyond the limit and keeps the gateway's shared lease; always re-registers a known one", async () => {
    const { registrar, store } = await backend.registry({ maxDevices: 2 });
    await registrar.register({ userId: "u", deviceId: "1", gatewayNode: "gw" });
    await registrar.register({ userId: "u", deviceId: "2", gatewayNode: "gw" });
    const { leaseId } = await registrar.grantLease(60, "gw", undefined);
    expect(await kindOf(registrar.register({ userId: "u", deviceId: "3", gatewayNode: "gw", leaseId }))).toBe(
      "exhausted",
    );
    expect(await store.grantOf(leaseId)).toEqual({ ttlSeconds: 60, owner: "gw" }); // a shared lease stays
    await registrar.register({ userId: "u", deviceId: "2", gatewayNode: "gw-2" });
    expect(where((await store.lookup(["u"])).entries)).toEqual(["u/1@gw", "u/2@gw-2"]);
  });

  it("evicts the oldest devices in the same transaction and answers them", async () => {
    const { registrar, store } = await backend.registry({ maxDevices: 2, devicePolicy: "evict_oldest" });
    await registrar.register({ userId: "u", deviceId: "1", gatewayNode: "gw" });
    await registrar.register({ userId: "u", deviceId: "2", gatewayNode: "gw" });
    await registrar.register({ userId: "u", deviceId: "1", gatewayNode: "gw" }); // 1 is now the newest
    const third = await registrar.register({ userId: "u", deviceId: "3", gatewayNode: "gw" });
    expect(where(third.evicted)).toEqual(["u/2@gw"]);
    expect(where((await store.lookup(["u"])).entries)).toEqual(["u/1@gw", "u/3@gw"]);
  });

  it("a stale hint never breaks the limit; a current one decides without a read", async () => {
    const { registrar, store } = await backend.registry({ maxDevices: 2 });
    const empty = await store.lookup(["u"]);
    await registrar.register({ userId: "u", deviceId: "1", gatewayNode: "gw" });
    await registrar.register({ userId: "u", deviceId: "2", gatewayNode: "gw" });
    // The hint still says "no devices": the write's condition fails, the next round reads etcd and rejects.
    expect(
      await kindOf(registrar.register({ userId: "u", deviceId: "3", gatewayNode: "gw", hint: empty })),
    ).toBe("exhausted");
    const current = await store.lookup(["u"]);
    await registrar.register({ userId: "u", deviceId: "2", gatewayNode: "gw-2", hint: current });
    expect(where((await store.lookup(["u"])).entries)).toEqual(["u/1@gw", "u/2@gw-2"]);
  });

  it("the limit holds under concurrent registrations of new devices, hinted or not", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.uniqueArray(idArb, { minLength: 2, maxLength: 12 }),
        fc.constantFrom("reject" as const, "evict_oldest" as const),
        fc.array(fc.boolean(), { minLength: 12, maxLength: 12 }),
        async (maxDevices, devices, devicePolicy, hinted) => {
          const { registrar, store, close } = await backend.registry({ maxDevices, devicePolicy });
          // Some registrations decide on a mirror's view (the service passes one): stale at once here.
          const hint = await store.lookup(["u"]);
          const results = await Promise.allSettled(
            devices.map((deviceId, i) =>
              registrar.register({
                userId: "u",
                deviceId,
                gatewayNode: "gw",
                ...(hinted[i] ? { hint } : {}),
              }),
            ),
          );
          const { entries } = await store.lookup(["u"]);
          expect(entries.length).toBeLessThanOrEqual(maxDevices);
          const accepted = results.filter((r) => r.status === "fulfilled").length;
          if (devicePolicy === "reject") expect(entries).toHaveLength(Math.min(accepted, maxDevices));
          else expect(entries).toHaveLength(Math.min(devices.length, maxDevices));
          await close();
        },
      ),
      { numRuns: 8 },
    );
  });
});
