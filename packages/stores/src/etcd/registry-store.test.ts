import { kindOf } from "@im-core/testkit";
import { describe, expect, it } from "vitest";
import type { ChangeBatch } from "../devices.js";
import { eventually, putDevice, sleep, useEtcd, where } from "../testing/etcd.js";
import { connectEtcd, deadlineFrom } from "./client.js";
import { writeDevice } from "./devices.js";

// One etcd for every case, each under its own key root. Nothing here compacts, restarts or locks it
// down: that would end the other cases' watches (watch.test.ts gives such cases an etcd of their own).
const etcd = useEtcd();

describe.concurrent("etcd registry store", () => {
  it("puts, looks up and moves devices; a user's prefix never matches another user's keys", async () => {
    const store = etcd.store();
    await putDevice(store, { userId: "u/1", deviceId: "phone", gatewayNode: "gw-a:9000" });
    await putDevice(store, { userId: "u/1", deviceId: "phone", gatewayNode: "gw-b:9000" });
    await putDevice(store, { userId: "u/1", deviceId: "pc", gatewayNode: "gw-a:9000" });
    await putDevice(store, { userId: "u", deviceId: "1/phone", gatewayNode: "gw-c:9000" });
    const { entries, revision } = await store.lookup(["u/1"]);
    expect(where(entries)).toEqual(["u/1/pc@gw-a:9000", "u/1/phone@gw-b:9000"]);
    expect(revision).toBeGreaterThan(0);
    expect(where((await store.lookup(["u"])).entries)).toEqual(["u/1/phone@gw-c:9000"]);
    expect(where((await store.readUser("u/1")).entries)).toEqual(where(entries));
  });

  it("records who a lease was granted to, puts on it, revokes it at once; a gone lease is not_found everywhere", async () => {
    const store = etcd.store();
    const { leaseId, ttlSeconds } = await store.grantLease(30, "gw");
    expect(ttlSeconds).toBe(30);
    expect(await store.grantOf(leaseId)).toEqual({ ttlSeconds: 30, owner: "gw" });
    // Recorded in etcd, not only in this instance's memory.
    const other = etcd.store({ keyRoot: store.layout.leasesPrefix.replace(/leases\/$/, "") });
    expect(await other.grantOf(leaseId)).toEqual({ ttlSeconds: 30, owner: "gw" });
    await putDevice(store, { userId: "a", deviceId: "d", gatewayNode: "gw", leaseId });
    await putDevice(store, { userId: "b", deviceId: "d", gatewayNode: "gw", leaseId });
    expect((await store.lookup(["a", "b"])).entries.map((e) => e.leaseId)).toEqual([leaseId, leaseId]);
    await store.revokeLease(leaseId);
    expect((await store.lookup(["a", "b"])).entries).toEqual([]);
    expect(await kindOf(store.revokeLease(leaseId))).toBe("not_found");
    expect(await kindOf(store.renew(leaseId))).toBe("not_found");
    expect(await kindOf(store.grantOf(leaseId))).toBe("not_found");
    expect(await kindOf(putDevice(store, { userId: "a", deviceId: "d", gatewayNode: "gw", leaseId }))).toBe(
      "not_found",
    );
  });

  it("expires an entry after its TTL and keeps a renewed one", async () => {
    // 2 s leases renewed every 300 ms: a renewal stays well inside the TTL even on a loaded machine.
    const store = etcd.store();
    const kept = await putDevice(store, { userId: "u", deviceId: "kept", gatewayNode: "gw", ttlSeconds: 2 });
    await putDevice(store, { userId: "u", deviceId: "dropped", gatewayNode: "gw", ttlSeconds: 2 });
    for (let i = 0; i < 10; i++) {
      await sleep(300);
      expect((await store.renew(kept.leaseId)).ttlSeconds).toBeGreaterThan(0);
    }
    expect(where((await store.lookup(["u"])).entries)).toEqual(["u/kept@gw"]);
  });

  it("writes only if the user's devices did not change since the view, evicting in the same transaction", async () => {
    const store = etcd.store();
    const { leaseId } = await store.grantLease(60, "gw");
    await putDevice(store, { userId: "u", deviceId: "old", gatewayNode: "gw", leaseId });
    const view = await store.readUser("u");
    await putDevice(store, { userId: "u", deviceId: "other", gatewayNode: "gw", leaseId });
    const write = { userId: "u", deviceId: "new", gatewayNode: "gw-2", connectedAtMs: 1, leaseId };
    // Another device arrived after the view: the write is refused and changes nothing.
    expect(await store.writeDevice({ ...write, evict: view.entries, unchangedSince: view.revision })).toEqual(
      {
        written: false,
      },
    );
    expect(where((await store.lookup(["u"])).entries)).toEqual(["u/old@gw", "u/other@gw"]);
    // A current view: the put and the evictions land in one revision.
    const current = await store.readUser("u");
    const outcome = await store.writeDevice({
      ...write,
      evict: current.entries,
      unchangedSince: current.revision,
    });
    expect(outcome.written).toBe(true);
    const after = await store.lookup(["u"]);
    expect(where(after.entries)).toEqual(["u/new@gw-2"]);
    expect(outcome.written && after.entries[0]!.modRevision).toBe(outcome.written && outcome.revision);
  });

  it("a write whose txn committed but whose answer was lost is reported as written, once", async () => {
    const store = etcd.store();
    const { leaseId } = await store.grantLease(60, "gw");
    await putDevice(store, { userId: "u", deviceId: "old", gatewayNode: "gw", leaseId });
    const view = await store.readUser("u");
    // A client of its own whose first txn commits and then "loses" its answer (as when the leader changes).
    const client = connectEtcd(etcd.server.endpoints);
    const txn = client.kv.txn.bind(client.kv);
    let calls = 0;
    client.kv.txn = async (...args: Parameters<typeof txn>) => {
      const response = await txn(...args);
      if (calls++ === 0) throw new Error("14 UNAVAILABLE: connection closed");
      return response;
    };
    try {
      const write = { userId: "u", deviceId: "new", gatewayNode: "gw-2", connectedAtMs: 7, leaseId };
      const outcome = await writeDevice(
        client,
        store.layout,
        { ...write, evict: view.entries, unchangedSince: view.revision },
        deadlineFrom(3_000),
      );
      expect(calls).toBe(2); // retried, and the retry's compare failed on the first attempt's own write
      const { entries } = await store.lookup(["u"]);
      expect(where(entries)).toEqual(["u/new@gw-2"]);
      expect(entries[0]!.connectedAtMs).toBe(7);
      expect(outcome).toEqual({ written: true, revision: entries[0]!.modRevision });
    } finally {
      client.close();
    }
  });

  it("unregisters only while the entry points to the given gateway", async () => {
    const store = etcd.store();
    await putDevice(store, { userId: "u", deviceId: "d", gatewayNode: "old" });
    await putDevice(store, { userId: "u", deviceId: "d", gatewayNode: "new" });
    expect((await store.unregister({ userId: "u", deviceId: "d", gatewayNode: "old" })).removed).toBe(false);
    expect(where((await store.lookup(["u"])).entries)).toEqual(["u/d@new"]);
    expect((await store.unregister({ userId: "u", deviceId: "d", gatewayNode: "new" })).removed).toBe(true);
    expect((await store.unregister({ userId: "u", deviceId: "d" })).removed).toBe(false);
  });

  it("looks up more users than one etcd txn may read, at one revision", async () => {
    const store = etcd.store();
    const { leaseId } = await store.grantLease(60, "gw");
    const users = Array.from({ length: 300 }, (_, i) => `user-${i}`);
    await Promise.all(
      users.map((u) => putDevice(store, { userId: u, deviceId: "d", gatewayNode: "gw", leaseId })),
    );
    const { entries } = await store.lookup([...users, ...users, "nobody"]);
    expect(entries).toHaveLength(300);
    const snapshot = await store.snapshot();
    expect(snapshot.entries).toHaveLength(300);
  });

  it("snapshots more entries than one page, whole or page by page, at one revision", async () => {
    const store = etcd.store();
    const { leaseId } = await store.grantLease(60, "gw");
    const total = 5_300; // more than one 5,000-entry page
    for (let i = 0; i < total; i += 120) {
      const users = Array.from({ length: Math.min(120, total - i) }, (_, j) => ({
        userId: `u${i + j}`,
        unchangedSince: 0,
        put: ["d"],
        evict: [],
        keep: [],
      }));
      await store.writeUsers({ gatewayNode: "gw", leaseId, connectedAtMs: 1, users });
    }
    const whole = await store.snapshot();
    const pages: number[] = [];
    const paged: string[] = [];
    const answer = await store.snapshot(undefined, (entries) => {
      pages.push(entries.length);
      paged.push(...where(entries));
    });
    expect(whole.entries).toHaveLength(total);
    expect(answer).toEqual({ revision: whole.revision, entries: [] });
    expect(pages).toEqual([5_000, 300]);
    expect(paged.sort()).toEqual(where(whole.entries));
    expect(new Set(whole.entries.map((e) => e.leaseId))).toEqual(new Set([leaseId]));
  });

  it("watches puts and deletes, a delete carrying the removed location", async () => {
    const store = etcd.store();
    const from = (await store.currentRevision()) + 1;
    const batches: ChangeBatch[] = [];
    const handle = store.watch(from, {
      batch: (b) => batches.push(b),
      error: (e) => batches.push(e as never),
    });
    try {
      await putDevice(store, { userId: "u", deviceId: "d", gatewayNode: "gw-1" });
      await putDevice(store, { userId: "u", deviceId: "d", gatewayNode: "gw-2" });
      await store.unregister({ userId: "u", deviceId: "d" });
      await putDevice(store, { userId: "u", deviceId: "e", gatewayNode: "gw-3", ttlSeconds: 1 }); // expires
      await eventually(() => expect(batches.flatMap((b) => b.events)).toHaveLength(5), 4_000);
      const events = batches
        .flatMap((b) => b.events)
        .map((e) => `${e.type} ${e.entry.deviceId}@${e.entry.gatewayNode}`);
      expect(events).toEqual(["put d@gw-1", "put d@gw-2", "delete d@gw-2", "put e@gw-3", "delete e@gw-3"]);
      const revisions = batches.map((b) => b.revision);
      expect(revisions).toEqual([...revisions].sort((a, b) => a - b));
    } finally {
      handle.close();
    }
  });
});
