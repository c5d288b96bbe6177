import { gatewayArb, idArb } from "@im-core/testkit";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { ChangeBatch } from "../devices.js";
import { DeviceMirror } from "../mirror/mirror.js";
import { eventually, putDevice, sleep, useEtcd, where } from "../testing/etcd.js";

const etcd = useEtcd();

describe.concurrent("registry store properties (real etcd)", () => {
  it("an entry expires after its TTL unless renewed", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(idArb, { minLength: 1, maxLength: 4 }),
        fc.boolean(),
        async (users, renew) => {
          const store = etcd.store();
          const leases = await Promise.all(
            users.map((userId) =>
              putDevice(store, { userId, deviceId: "d", gatewayNode: "gw", ttlSeconds: 1 }),
            ),
          );
          for (let t = 0; t < 5; t++) {
            await sleep(400);
            if (renew) await Promise.all(leases.map((l) => store.renew(l.leaseId)));
          }
          expect((await store.lookup(users)).entries).toHaveLength(renew ? users.length : 0);
          store.close();
        },
      ),
      { numRuns: 4 },
    );
  });

  it("a watch resumed at any cut equals the uninterrupted sequence", async () => {
    const store = etcd.store();
    const from = (await store.currentRevision()) + 1;
    const ops = Array.from({ length: 20 }, (_, i) => i);
    // Other cases write to the same etcd: the last revision of interest is our own last write.
    let end = 0;
    for (const i of ops) {
      const written =
        i % 4 === 3
          ? await store.unregister({ userId: `u${i % 3}`, deviceId: `d${i % 5}` })
          : await putDevice(store, { userId: `u${i % 3}`, deviceId: `d${i % 5}`, gatewayNode: `gw${i}` });
      end = Math.max(end, written.revision ?? 0);
    }
    const follow = (start: number) =>
      new Promise<ChangeBatch[]>((resolve, reject) => {
        const batches: ChangeBatch[] = [];
        const handle = store.watch(start, {
          batch: (b) => {
            batches.push(b);
            if (b.revision >= end) {
              handle.close();
              resolve(batches);
            }
          },
          error: reject,
        });
      });
    const all = (await follow(from)).flatMap((b) => b.events);
    const label = (e: (typeof all)[number]) =>
      `${e.revision} ${e.type} ${e.entry.userId}/${e.entry.deviceId}@${e.entry.gatewayNode}`;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: all.length - 1 }), async (cut) => {
        const lastSeen = all[cut]!.revision;
        const resumed = lastSeen >= end ? [] : (await follow(lastSeen + 1)).flatMap((b) => b.events);
        expect([...all.slice(0, cut + 1), ...resumed].map(label)).toEqual(all.map(label));
      }),
      { numRuns: 10 },
    );
  });

  it("random register / move / unregister / revoke / expire sequences leave lookups equal to a model", async () => {
    type Op =
      | { kind: "register"; user: number; device: number; gateway: string; lease: number | "own" }
      | { kind: "unregister"; user: number; device: number; gateway?: string }
      | { kind: "revoke"; lease: number }
      | { kind: "expire" };
    const opArb: fc.Arbitrary<Op> = fc.oneof(
      fc.record({
        kind: fc.constant("register" as const),
        user: fc.nat(2),
        device: fc.nat(2),
        gateway: gatewayArb,
        lease: fc.oneof(fc.nat(1), fc.constant("own" as const)),
      }),
      fc.record(
        { kind: fc.constant("unregister" as const), user: fc.nat(2), device: fc.nat(2), gateway: gatewayArb },
        { requiredKeys: ["kind", "user", "device"] },
      ),
      fc.record({ kind: fc.constant("revoke" as const), lease: fc.nat(1) }),
      fc.constant({ kind: "expire" as const }),
    );
    const users = ["a/b", "a", "b%2F"];
    const devices = ["1", "1/x", "é"];
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 12 }), async (ops) => {
        const store = etcd.store();
        const mirror = new DeviceMirror(store);
        await mirror.start(AbortSignal.timeout(5_000));
        // Two shared long leases (revocable); "own" leases are 1 s and expire on "expire".
        const shared = [await store.grantLease(60, "gw"), await store.grantLease(60, "gw")];
        const model = new Map<string, { gateway: string; lease: bigint }>();
        const key = (u: number, d: number) => `${users[u]}/${devices[d]}`;
        try {
          for (const op of ops) {
            if (op.kind === "register") {
              const leaseId = op.lease === "own" ? undefined : shared[op.lease]!.leaseId;
              try {
                const r = await putDevice(store, {
                  userId: users[op.user]!,
                  deviceId: devices[op.device]!,
                  gatewayNode: op.gateway,
                  ...(leaseId ? { leaseId } : { ttlSeconds: 1 }),
                });
                model.set(key(op.user, op.device), { gateway: op.gateway, lease: r.leaseId });
                mirror.noteWrite(r.revision);
              } catch {
                expect(op.lease).not.toBe("own"); // only a revoked shared lease may refuse
              }
            } else if (op.kind === "unregister") {
              const current = model.get(key(op.user, op.device));
              const r = await store.unregister({
                userId: users[op.user]!,
                deviceId: devices[op.device]!,
                gatewayNode: op.gateway,
              });
              const expected =
                current !== undefined && (op.gateway === undefined || op.gateway === current.gateway);
              expect(r.removed).toBe(expected);
              if (expected) model.delete(key(op.user, op.device));
              if (r.revision) mirror.noteWrite(r.revision);
            } else if (op.kind === "revoke") {
              const lease = shared[op.lease]!.leaseId;
              // As the service does: only a revoke that removes entries is a write the mirror must show.
              const hadEntries = mirror.hasLease(lease);
              const revoked = await store.revokeLease(lease).catch(() => undefined);
              if (revoked && hadEntries) mirror.noteWrite(revoked.revision);
              for (const [k, v] of model) if (v.lease === lease) model.delete(k);
            } else {
              const own = new Set(shared.map((l) => l.leaseId));
              await eventually(async () => {
                const { entries } = await store.lookup(users);
                expect(entries.every((e) => own.has(e.leaseId))).toBe(true);
              }, 4_000);
              for (const [k, v] of model) if (!own.has(v.lease)) model.delete(k);
            }
            const expected = [...model].map(([k, v]) => `${k}@${v.gateway}`).sort();
            expect(where((await store.lookup(users)).entries)).toEqual(expected);
            await eventually(
              () => expect(where(mirror.lookup(users)?.entries ?? [])).toEqual(expected),
              2_000,
            );
          }
        } finally {
          mirror.close();
          store.close();
        }
      }),
      { numRuns: 12 },
    );
  });
});
