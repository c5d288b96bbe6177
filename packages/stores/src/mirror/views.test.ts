import { describe, expect, it } from "vitest";
import type { ChangeBatch, DeviceEntry, DeviceSnapshot, MirrorSource, WatchSink } from "../devices.js";
import { DeviceMirror } from "./mirror.js";

const entry = (userId: string, deviceId: string, modRevision: number, leaseId = 1n): DeviceEntry => ({
  userId,
  deviceId,
  gatewayNode: `gw-${modRevision}`,
  connectedAtMs: modRevision,
  leaseId,
  modRevision,
});

/** A source that answers one snapshot and lets the test push batches. */
function fakeSource(snapshot: DeviceSnapshot) {
  let sink: WatchSink | undefined;
  const source: MirrorSource = {
    snapshot: async () => snapshot,
    watch(_from, s) {
      sink = s;
      queueMicrotask(() => s.connection?.(true));
      return { close() {} };
    },
  };
  return { source, push: (batch: ChangeBatch) => sink!.batch(batch) };
}

const where = (views: readonly { userId: string; deviceId: string; gatewayNode: string }[] | undefined) =>
  views?.map((v) => `${v.userId}/${v.deviceId}@${v.gatewayNode}`);

describe("DeviceMirror views (ready-made answers per entry)", () => {
  it("builds each view once per applied entry and answers them sorted by user, then device", async () => {
    const { source, push } = fakeSource({
      revision: 10,
      entries: [entry("b", "z", 3), entry("b", "a", 4), entry("a", "m", 5), entry("c", "\u00e9", 6)],
    });
    let built = 0;
    const mirror = new DeviceMirror(source, { view: (e) => ({ ...e, built: ++built }) });
    await mirror.start();
    expect(built).toBe(4);

    expect(where(mirror.views(["c", "b", "a", "b", "nobody"])?.views)).toEqual([
      "a/m@gw-5",
      "b/a@gw-4",
      "b/z@gw-3",
      "c/\u00e9@gw-6",
    ]);
    expect(mirror.views(["b"])?.revision).toBe(10);
    const before = mirror.views(["b"])!.views;
    expect(where(before)).toEqual(["b/a@gw-4", "b/z@gw-3"]);
    expect(mirror.views(["b"])?.views).toBe(before); // nothing built per call
    expect(mirror.views(["nobody"])?.views).toEqual([]);
    expect(built).toBe(4);

    push({
      revision: 11,
      events: [
        { type: "put", revision: 11, entry: entry("b", "m", 11) },
        { type: "put", revision: 11, entry: entry("b", "z", 11, 2n) },
        { type: "delete", revision: 11, entry: entry("b", "a", 4) },
        { type: "delete", revision: 11, entry: entry("a", "m", 5) },
      ],
    });
    expect(built).toBe(6);
    expect(where(before)).toEqual(["b/a@gw-4", "b/z@gw-3"]); // an answer handed out never changes
    expect(where(mirror.views(["b"])?.views)).toEqual(["b/m@gw-11", "b/z@gw-11"]);
    expect(mirror.views(["a"])?.views).toEqual([]);
    expect(mirror.views(["a", "b"])?.revision).toBe(11);
    expect(where(mirror.lookup(["b"])?.entries)).toEqual(["b/m@gw-11", "b/z@gw-11"]);
    expect(mirror.stats().entries).toBe(3);
    expect(mirror.hasLease(1n)).toBe(true); // c/é and b/m
    expect(mirror.hasLease(2n)).toBe(true);
    mirror.close();
  });

  it("answers nothing below its owner's own write, like lookup", async () => {
    const { source, push } = fakeSource({ revision: 5, entries: [entry("u", "d", 5)] });
    const mirror = new DeviceMirror(source);
    await mirror.start();
    mirror.noteWrite(6);
    expect(mirror.views(["u"])?.views).toBeUndefined();
    expect(mirror.views(["u", "v"])).toBeUndefined();
    expect(mirror.views(["u"], 5)?.views).toHaveLength(1);
    push({ revision: 6, events: [{ type: "put", revision: 6, entry: entry("u", "e", 6) }] });
    expect(mirror.views(["u"])?.views?.map((e) => e.deviceId)).toEqual(["d", "e"]); // default view: the entry
    mirror.close();
    expect(mirror.views(["u"], 0)?.views).toBeUndefined();
  });
});
