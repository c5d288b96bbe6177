import { describe, expect, it } from "vitest";
import { eventually, putDevice, useEtcd, where } from "../testing/etcd.js";
import { DeviceMirror } from "./mirror.js";

const etcd = useEtcd();

describe.concurrent("DeviceMirror over etcd", () => {
  it("loads existing entries, then follows changes", async () => {
    const store = etcd.store();
    await putDevice(store, { userId: "u", deviceId: "before", gatewayNode: "gw" });
    const mirror = new DeviceMirror(store);
    await mirror.start(AbortSignal.timeout(5_000));
    try {
      expect(where(mirror.lookup(["u"])!.entries)).toEqual(["u/before@gw"]);
      await putDevice(store, { userId: "u", deviceId: "after", gatewayNode: "gw" });
      await eventually(() => expect(mirror.lookup(["u"])?.entries).toHaveLength(2));
    } finally {
      mirror.close();
    }
  });

  it("never answers below its owner's own acknowledged write", async () => {
    const store = etcd.store();
    const mirror = new DeviceMirror(store);
    await mirror.start(AbortSignal.timeout(5_000));
    try {
      for (let i = 0; i < 20; i++) {
        const { revision } = await putDevice(store, { userId: `u${i}`, deviceId: "d", gatewayNode: "gw" });
        mirror.noteWrite(revision);
        const answer = mirror.lookup([`u${i}`]) ?? (await store.lookup([`u${i}`]));
        expect(where(answer.entries)).toEqual([`u${i}/d@gw`]);
      }
    } finally {
      mirror.close();
    }
  });

  it("a lookup waits for its owner's writes noted before it, not for writes that keep coming after", async () => {
    const store = etcd.store();
    const mirror = new DeviceMirror(store);
    await mirror.start(AbortSignal.timeout(5_000));
    try {
      const { leaseId } = await store.grantLease(60, "gw");
      let stop = false;
      // Other writers of this instance keep moving the write floor up.
      const writers = Array.from({ length: 4 }, async (_, w) => {
        for (let i = 0; !stop; i++) {
          const { revision } = await putDevice(store, {
            userId: `w${w}-${i}`,
            deviceId: "d",
            gatewayNode: "gw",
            leaseId,
          });
          mirror.noteWrite(revision);
        }
      });
      const waits: number[] = [];
      for (let i = 0; i < 10; i++) {
        const { revision } = await putDevice(store, {
          userId: `me${i}`,
          deviceId: "d",
          gatewayNode: "gw",
          leaseId,
        });
        mirror.noteWrite(revision);
        const started = performance.now();
        const floor = await mirror.catchUp(1_000);
        waits.push(performance.now() - started);
        expect(floor).toBeGreaterThanOrEqual(revision);
        expect(where(mirror.lookup([`me${i}`], floor)!.entries)).toEqual([`me${i}/d@gw`]);
      }
      stop = true;
      await Promise.all(writers);
      expect(Math.max(...waits)).toBeLessThan(1_000); // never the whole timeout
    } finally {
      mirror.close();
    }
  });

  it("lets go of a subscriber cut off for lag at once, even if it is never read again", async () => {
    const store = etcd.store();
    const mirror = new DeviceMirror(store, { maxSubscriberBacklog: 5 });
    await mirror.start(AbortSignal.timeout(5_000));
    try {
      let overflows = 0;
      const feed = mirror.subscribe(undefined, undefined, () => overflows++)!;
      expect(mirror.stats().subscribers).toBe(1);
      expect(mirror.subscribe(mirror.revision + 2)).toBeUndefined(); // ahead of it: only etcd can judge
      const { leaseId } = await store.grantLease(60, "gw");
      for (let i = 0; i < 8; i++)
        await putDevice(store, { userId: `u${i}`, deviceId: "d", gatewayNode: "gw", leaseId });
      await eventually(() => expect(mirror.stats().subscribers).toBe(0));
      expect(overflows).toBe(1);
      expect(feed.subscription.pending).toBe(0);
      expect(mirror.stats().queuedEvents).toBe(0);
      await expect(feed.subscription[Symbol.asyncIterator]().next()).rejects.toMatchObject({
        kind: "exhausted",
      });
    } finally {
      mirror.close();
    }
  });

  it("two instances: the other sees a registration within a bounded delay (measured)", async () => {
    const a = etcd.store();
    const b = etcd.store({ keyRoot: a.layout.devicesPrefix.replace(/devices\/$/, "") });
    const mirror = new DeviceMirror(b);
    await mirror.start(AbortSignal.timeout(5_000));
    const delays: number[] = [];
    try {
      for (let i = 0; i < 50; i++) {
        await putDevice(a, { userId: `u${i}`, deviceId: "d", gatewayNode: "gw" });
        const acked = performance.now();
        while (!mirror.lookup([`u${i}`])?.entries.length) await new Promise((r) => setImmediate(r));
        delays.push(performance.now() - acked);
      }
    } finally {
      mirror.close();
    }
    delays.sort((x, y) => x - y);
    const p50 = delays[25]!;
    const max = delays.at(-1)!;
    console.log(
      `cross-instance mirror delay after the write's ack: p50 ${p50.toFixed(2)} ms, max ${max.toFixed(2)} ms`,
    );
    expect(max).toBeLessThan(500);
  });
});
