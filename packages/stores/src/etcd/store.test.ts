import { describe, expect, it } from "vitest";
import { StoreError } from "../errors.js";
import { eventually, sleep, useEtcd, where } from "./test/fixture.js";
import type { ChangeBatch } from "./types.js";

const etcd = useEtcd();

async function kindOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return "ok";
  } catch (error) {
    if (error instanceof StoreError) return error.kind;
    throw error;
  }
}

describe.concurrent("etcd registry store", () => {
  it("registers, looks up and moves a device (15.1, 15.2)", async () => {
    const store = etcd.store();
    const first = await store.register({ userId: "u/1", deviceId: "phone", gatewayNode: "gw-a:9000" });
    expect(first.leaseId).toBeGreaterThan(0n);
    expect(first.ttlSeconds).toBe(60);
    await store.register({ userId: "u/1", deviceId: "phone", gatewayNode: "gw-b:9000" });
    await store.register({ userId: "u/1", deviceId: "pc", gatewayNode: "gw-a:9000" });
    await store.register({ userId: "u", deviceId: "1/phone", gatewayNode: "gw-c:9000" });
    const { entries, revision } = await store.lookup(["u/1"]);
    expect(where(entries)).toEqual(["u/1/pc@gw-a:9000", "u/1/phone@gw-b:9000"]);
    expect(revision).toBeGreaterThan(0);
    expect(where((await store.lookup(["u"])).entries)).toEqual(["u/1/phone@gw-c:9000"]);
  });

  it("registers on a shared lease and revokes it at once (7.1)", async () => {
    const store = etcd.store();
    const { leaseId, ttlSeconds } = await store.grantLease(30);
    expect(ttlSeconds).toBe(30);
    const a = await store.register({ userId: "a", deviceId: "d", gatewayNode: "gw", leaseId });
    expect(a.leaseId).toBe(leaseId);
    expect(a.ttlSeconds).toBe(30);
    await store.register({ userId: "b", deviceId: "d", gatewayNode: "gw", leaseId });
    expect((await store.lookup(["a", "b"])).entries).toHaveLength(2);
    await store.revokeLease(leaseId);
    expect((await store.lookup(["a", "b"])).entries).toEqual([]);
    expect(await kindOf(store.revokeLease(leaseId))).toBe("not_found");
    expect(await kindOf(store.renew(leaseId))).toBe("not_found");
    expect(await kindOf(store.register({ userId: "a", deviceId: "d", gatewayNode: "gw", leaseId }))).toBe(
      "not_found",
    );
  });

  it("expires an entry after its TTL and keeps a renewed one (7.1, 7.2)", async () => {
    // 2 s leases renewed every 300 ms: a renewal stays well inside the TTL even on a loaded machine.
    const store = etcd.store({ defaultTtlSeconds: 2 });
    const kept = await store.register({ userId: "u", deviceId: "kept", gatewayNode: "gw" });
    await store.register({ userId: "u", deviceId: "dropped", gatewayNode: "gw" });
    for (let i = 0; i < 10; i++) {
      await sleep(300);
      expect((await store.renew(kept.leaseId)).ttlSeconds).toBeGreaterThan(0);
    }
    expect(where((await store.lookup(["u"])).entries)).toEqual(["u/kept@gw"]);
  });

  it("rejects a device beyond the limit, but always re-registers a known one", async () => {
    const store = etcd.store({ maxDevices: 2 });
    await store.register({ userId: "u", deviceId: "1", gatewayNode: "gw" });
    await store.register({ userId: "u", deviceId: "2", gatewayNode: "gw" });
    expect(await kindOf(store.register({ userId: "u", deviceId: "3", gatewayNode: "gw" }))).toBe("exhausted");
    await store.register({ userId: "u", deviceId: "2", gatewayNode: "gw-2" });
    expect(where((await store.lookup(["u"])).entries)).toEqual(["u/1@gw", "u/2@gw-2"]);
  });

  it("evicts the oldest devices in the same transaction", async () => {
    const store = etcd.store({ maxDevices: 2, devicePolicy: "evict_oldest" });
    await store.register({ userId: "u", deviceId: "1", gatewayNode: "gw" });
    await store.register({ userId: "u", deviceId: "2", gatewayNode: "gw" });
    await store.register({ userId: "u", deviceId: "1", gatewayNode: "gw" }); // 1 is now the newest
    const third = await store.register({ userId: "u", deviceId: "3", gatewayNode: "gw" });
    expect(where(third.evicted)).toEqual(["u/2@gw"]);
    expect(where((await store.lookup(["u"])).entries)).toEqual(["u/1@gw", "u/3@gw"]);
  });

  it("a Register whose txn committed but whose answer was lost answers what that txn did", async () => {
    const store = etcd.store({ maxDevices: 1, devicePolicy: "evict_oldest" });
    await store.register({ userId: "u", deviceId: "old", gatewayNode: "gw" });
    // The first txn commits, then its answer is "lost" (a transient error, as when the leader changes).
    const kv = (store as unknown as { etcd: { kv: { txn: (...args: unknown[]) => Promise<unknown> } } }).etcd
      .kv;
    const txn = kv.txn.bind(kv);
    let lost = 0;
    kv.txn = async (...args: unknown[]) => {
      const response = await txn(...args);
      if (lost++ === 0) throw new Error("14 UNAVAILABLE: connection closed");
      return response;
    };
    const result = await store.register({ userId: "u", deviceId: "new", gatewayNode: "gw-2" });
    kv.txn = txn;
    expect(lost).toBeGreaterThanOrEqual(2); // it was retried
    expect(where(result.evicted)).toEqual(["u/old@gw"]);
    // The entry is the one write it answered for, not a second write made by the retry.
    const { entries } = await store.lookup(["u"]);
    expect(where(entries)).toEqual(["u/new@gw-2"]);
    expect(entries[0]!.modRevision).toBe(result.revision);
    expect(entries[0]!.connectedAtMs).toBe(result.connectedAtMs);
  });

  it("a stale hint never breaks the device limit; a current one spares the read", async () => {
    const store = etcd.store({ maxDevices: 2 });
    const empty = await store.lookup(["u"]);
    await store.register({ userId: "u", deviceId: "1", gatewayNode: "gw" });
    await store.register({ userId: "u", deviceId: "2", gatewayNode: "gw" });
    // The hint still says "no devices": the compare fails, the retry reads etcd and rejects.
    expect(await kindOf(store.register({ userId: "u", deviceId: "3", gatewayNode: "gw", hint: empty }))).toBe(
      "exhausted",
    );
    const current = await store.lookup(["u"]);
    await store.register({ userId: "u", deviceId: "2", gatewayNode: "gw-2", hint: current });
    expect(where((await store.lookup(["u"])).entries)).toEqual(["u/1@gw", "u/2@gw-2"]);
  });

  it("unregisters only while the entry points to the given gateway", async () => {
    const store = etcd.store();
    await store.register({ userId: "u", deviceId: "d", gatewayNode: "old" });
    await store.register({ userId: "u", deviceId: "d", gatewayNode: "new" });
    expect((await store.unregister({ userId: "u", deviceId: "d", gatewayNode: "old" })).removed).toBe(false);
    expect(where((await store.lookup(["u"])).entries)).toEqual(["u/d@new"]);
    expect((await store.unregister({ userId: "u", deviceId: "d", gatewayNode: "new" })).removed).toBe(true);
    expect((await store.unregister({ userId: "u", deviceId: "d" })).removed).toBe(false);
  });

  it("looks up more users than one etcd txn may read, at one revision", async () => {
    const store = etcd.store();
    const { leaseId } = await store.grantLease(60);
    const users = Array.from({ length: 300 }, (_, i) => `user-${i}`);
    await Promise.all(
      users.map((u) => store.register({ userId: u, deviceId: "d", gatewayNode: "gw", leaseId })),
    );
    const { entries } = await store.lookup([...users, ...users, "nobody"]);
    expect(entries).toHaveLength(300);
    const snapshot = await store.snapshot();
    expect(snapshot.entries).toHaveLength(300);
  });

  it("watches puts and deletes, a delete carrying the removed location (7.9)", async () => {
    const store = etcd.store({ defaultTtlSeconds: 1 });
    const from = (await store.currentRevision()) + 1;
    const batches: ChangeBatch[] = [];
    const handle = store.watch(from, {
      batch: (b) => batches.push(b),
      error: (e) => batches.push(e as never),
    });
    try {
      await store.register({ userId: "u", deviceId: "d", gatewayNode: "gw-1" });
      await store.register({ userId: "u", deviceId: "d", gatewayNode: "gw-2" });
      await store.unregister({ userId: "u", deviceId: "d" });
      await store.register({ userId: "u", deviceId: "e", gatewayNode: "gw-3" }); // expires
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

  it("fails a watch from a compacted revision with out_of_range", async () => {
    const store = etcd.store();
    const from = (await store.register({ userId: "u", deviceId: "d", gatewayNode: "gw" })).revision;
    await store.register({ userId: "u", deviceId: "d", gatewayNode: "gw2" });
    const now = await store.currentRevision();
    await fetch(`${etcd.server.endpoints[0]}/v3/kv/compaction`, {
      method: "POST",
      body: JSON.stringify({ revision: String(now), physical: true }),
    });
    expect(await kindOf(store.assertHistoryFrom(from))).toBe("out_of_range");
    const failure = await new Promise<Error>((resolve) => {
      store.watch(from, { batch: () => {}, error: resolve });
    });
    expect(failure).toBeInstanceOf(StoreError);
    expect((failure as StoreError).kind).toBe("out_of_range");
    // The next revision is fine (a watch from it waits); beyond it, the client's history was lost.
    await store.assertHistoryFrom(now + 1);
    expect(await kindOf(store.assertHistoryFrom(now + 1000))).toBe("out_of_range");
  });
});
