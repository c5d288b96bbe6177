import { test } from "@fast-check/vitest";
import fc from "fast-check";
import { describe, expect } from "vitest";
import type { DeviceEntry } from "../devices.js";
import { DeviceIndex } from "./device-index.js";

const op = fc.record({
  put: fc.boolean(),
  userId: fc.constantFrom("a", "b", "c"),
  deviceId: fc.constantFrom("x", "y", "z", "\u00e9"),
  leaseId: fc.constantFrom(1n, 2n, 3n),
});

const key = (e: { userId: string; deviceId: string }) => `${e.userId}/${e.deviceId}`;
const sorted = (entries: readonly DeviceEntry[]) => entries.map((e) => `${key(e)}@${e.leaseId}`).sort();

describe("DeviceIndex", () => {
  test.prop([fc.array(op, { maxLength: 60 })])(
    "answers what a plain map of the same puts and removes holds, whether a user has one device or several",
    (ops) => {
      const index = new DeviceIndex((entry: DeviceEntry) => ({ ...entry }));
      const model = new Map<string, DeviceEntry>();
      for (const [revision, o] of ops.entries()) {
        const entry = { ...o, gatewayNode: "gw", connectedAtMs: revision, modRevision: revision + 1 };
        if (o.put) {
          index.put(entry);
          model.set(key(entry), entry);
        } else {
          index.remove(entry);
          model.delete(key(entry));
        }
        expect(index.size).toBe(model.size);
        for (const userId of ["a", "b", "c"]) {
          const expected = [...model.values()].filter((e) => e.userId === userId);
          const views = index.viewsOf([userId]);
          // One user: sorted by device id, in UTF-16 code unit order.
          expect(views.map((v) => v.deviceId)).toEqual(expected.map((e) => e.deviceId).sort());
          expect(sorted(views)).toEqual(sorted(expected));
        }
        expect(sorted(index.entriesOf(["c", "a", "b", "a"]))).toEqual(sorted([...model.values()]));
        expect(sorted(index.all())).toEqual(sorted([...model.values()]));
        for (const lease of [1n, 2n, 3n]) {
          expect(index.hasLease(lease)).toBe([...model.values()].some((e) => e.leaseId === lease));
        }
      }
    },
  );
});
