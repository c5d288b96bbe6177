import { Code } from "@connectrpc/connect";
import type { BatchRegisterResponse } from "@im-core/proto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { devicesOf, registriesOnOneEtcd } from "./testing/registry.js";

const backend = registriesOnOneEtcd();
const ok = (r: BatchRegisterResponse) => r.results.filter((x) => x.code === 0);
const codes = (r: BatchRegisterResponse) => r.results.map((x) => (x.code === 0 ? "OK" : Code[x.code]));

describe.concurrent("BatchRegister", () => {
  it("registers 1,000 devices of one gateway in one call, and the same batch again changes nothing", async () => {
    const { client, store } = await backend.registry({ maxDevices: 10 });
    const { leaseId } = await client.grantLease({ gatewayNode: "gw:1" });
    const devices = Array.from({ length: 1_000 }, (_, i) => ({ userId: `u${i % 400}`, deviceId: `d${i}` }));
    const started = performance.now();
    const first = await client.batchRegister({ gatewayNode: "gw:1", leaseId, devices });
    const ms = performance.now() - started;
    console.info(`BatchRegister: 1,000 devices in ${ms.toFixed(0)} ms (${Math.round(1e6 / ms)} devices/s)`);
    expect(ok(first)).toHaveLength(1_000);
    expect(first.results[7]!.location).toMatchObject({
      userId: "u7",
      deviceId: "d7",
      gatewayNode: "gw:1",
      leaseId,
    });
    expect((await store.snapshot()).entries).toHaveLength(1_000);

    const again = await client.batchRegister({ gatewayNode: "gw:1", leaseId, devices });
    expect(ok(again)).toHaveLength(1_000);
    // Acknowledged as they are: nothing was written, so the entries keep their first connect time.
    expect(again.results[7]!.location?.connectedAt).toEqual(first.results[7]!.location?.connectedAt);
    expect(again.revision).toBeGreaterThanOrEqual(first.revision);
    const snapshot = await store.snapshot();
    expect(Math.max(...snapshot.entries.map((e) => e.modRevision))).toBe(Number(first.revision));
  });

  it("answers each device on its own: bad ids name devices[i], repeats and the reject limit fail beside successes", async () => {
    const { client } = await backend.registry({ maxDevices: 2, devicePolicy: "reject" });
    const { leaseId } = await client.grantLease({ gatewayNode: "gw:1" });
    await client.register({ userId: "full", deviceId: "a", gatewayNode: "gw:0" });
    await client.register({ userId: "full", deviceId: "b", gatewayNode: "gw:0" });
    const response = await client.batchRegister({
      gatewayNode: "gw:1",
      leaseId,
      devices: [
        { userId: "u", deviceId: "1" },
        { userId: "u", deviceId: "" },
        { userId: "u", deviceId: "1" },
        { userId: "full", deviceId: "c" },
        { userId: "full", deviceId: "a" }, // a move is always allowed
        { userId: "v", deviceId: "1" },
        { userId: "u", deviceId: "2" },
        { userId: "u", deviceId: "3" }, // the third of u in this batch, over the limit
      ],
    });
    expect(codes(response)).toEqual([
      "OK",
      "InvalidArgument",
      "InvalidArgument",
      "ResourceExhausted",
      "OK",
      "OK",
      "OK",
      "ResourceExhausted",
    ]);
    expect(response.results[1]!.message).toMatch(/^devices\[1\]\.device_id: /);
    expect(response.results[2]!.message).toContain("devices[0]");
    expect(devicesOf(await client.lookup({ userId: "full" }))).toEqual(["full/a@gw:1", "full/b@gw:0"]);
    expect(devicesOf(await client.lookup({ userId: "u" }))).toEqual(["u/1@gw:1", "u/2@gw:1"]);
  });

  it("evicts the oldest devices within one batch and reports them; a device evicted by a later one of the batch is refused", async () => {
    const { client } = await backend.registry({ maxDevices: 2, devicePolicy: "evict_oldest" });
    const { leaseId } = await client.grantLease({ gatewayNode: "gw:1" });
    await client.register({ userId: "u", deviceId: "old", gatewayNode: "gw:0" });
    const response = await client.batchRegister({
      gatewayNode: "gw:1",
      leaseId,
      devices: ["1", "2", "3"].map((deviceId) => ({ userId: "u", deviceId })),
    });
    expect(codes(response)).toEqual(["ResourceExhausted", "OK", "OK"]);
    expect(response.results[0]!.message).toContain("evicted by devices[2]");
    expect(response.results[1]!.evicted.map((d) => d.deviceId)).toEqual(["old"]);
    expect(devicesOf(await client.lookup({ userId: "u" }))).toEqual(["u/2@gw:1", "u/3@gw:1"]);
  });

  it("refuses a whole call that is empty, too large, without a lease or on a lease that is gone", async () => {
    const { client } = await backend.registry();
    const { leaseId } = await client.grantLease({ gatewayNode: "gw:1" });
    const one = [{ userId: "u", deviceId: "d" }];
    const many = Array.from({ length: 1_001 }, (_, i) => ({ userId: "u", deviceId: `${i}` }));
    const code = (p: Promise<unknown>) =>
      p.then(
        () => "OK",
        (e: { code: Code }) => Code[e.code],
      );
    expect(await code(client.batchRegister({ gatewayNode: "gw:1", leaseId, devices: [] }))).toBe(
      "InvalidArgument",
    );
    expect(await code(client.batchRegister({ gatewayNode: "gw:1", leaseId, devices: many }))).toBe(
      "InvalidArgument",
    );
    expect(await code(client.batchRegister({ gatewayNode: "gw:1", devices: one }))).toBe("InvalidArgument");
    await client.revokeLease({ leaseId });
    expect(await code(client.batchRegister({ gatewayNode: "gw:1", leaseId, devices: one }))).toBe("NotFound");
  });

  it("keeps the limit and every acknowledged device, for batches racing single Registers (property)", async () => {
    const user = fc.constantFrom("u1", "u2", "u3");
    const device = fc.record({ userId: user, deviceId: fc.constantFrom("a", "b", "c", "d", "e", "f") });
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 3 }),
        fc.constantFrom("reject" as const, "evict_oldest" as const),
        fc.array(
          fc.uniqueArray(device, {
            selector: (d) => `${d.userId}/${d.deviceId}`,
            minLength: 1,
            maxLength: 8,
          }),
          {
            minLength: 1,
            maxLength: 3,
          },
        ),
        fc.array(device, { maxLength: 6 }),
        async (maxDevices, devicePolicy, batches, singles) => {
          const { client, store, close } = await backend.registry({ maxDevices, devicePolicy });
          const acked: string[] = [];
          const evicted = new Set<string>();
          const key = (d: { userId: string; deviceId: string }) => `${d.userId}/${d.deviceId}`;
          const calls = [
            ...batches.map(async (devices, i) => {
              const gatewayNode = `gw:${i}`;
              const { leaseId } = await client.grantLease({ gatewayNode });
              const r = await client.batchRegister({ gatewayNode, leaseId, devices });
              r.results.forEach((x, j) => {
                if (x.code === 0) acked.push(`${key(devices[j]!)}@${gatewayNode}`);
                for (const e of x.evicted) evicted.add(key(e));
              });
            }),
            ...singles.map(async (d) => {
              const r = await client.register({ ...d, gatewayNode: "gw:single" }).catch(() => undefined);
              if (r) acked.push(`${key(d)}@gw:single`);
              for (const e of r?.evicted ?? []) evicted.add(key(e));
            }),
          ];
          await Promise.all(calls);
          const final = await store.snapshot();
          for (const u of ["u1", "u2", "u3"]) {
            expect(final.entries.filter((e) => e.userId === u).length).toBeLessThanOrEqual(maxDevices);
          }
          // An acknowledged device is still there (perhaps moved by a later registration), or some
          // registration reported it evicted (perhaps after such a move): none vanishes silently.
          const present = new Set(final.entries.map(key));
          for (const a of acked) {
            const device = a.split("@")[0]!;
            expect(present.has(device) || evicted.has(device), `${a} was lost`).toBe(true);
          }
          await close();
        },
      ),
      { numRuns: 10 },
    );
  });
});
