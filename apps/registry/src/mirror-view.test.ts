import { toBinary } from "@bufbuild/protobuf";
import { test } from "@fast-check/vitest";
import { DeviceLocationSchema } from "@im-core/proto";
import type { DeviceEntry } from "@im-core/stores/etcd";
import fc from "fast-check";
import { describe, expect } from "vitest";
import { toLocation } from "./handlers/convert.js";
import { mirrorViews } from "./mirror-view.js";

const entry: fc.Arbitrary<DeviceEntry> = fc.record({
  userId: fc.string({ minLength: 1, maxLength: 8 }),
  deviceId: fc.string({ minLength: 1, maxLength: 8 }),
  gatewayNode: fc.constantFrom("gw-a:9000", "gw-b:9000", "gw-a:9001"),
  connectedAtMs: fc.integer({ min: 0, max: 4_102_444_800_000 }),
  leaseId: fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }),
  modRevision: fc.integer({ min: 1, max: 2 ** 40 }),
});

const fields = (e: DeviceEntry) => ({
  userId: e.userId,
  deviceId: e.deviceId,
  gatewayNode: e.gatewayNode,
  connectedAtMs: e.connectedAtMs,
  leaseId: e.leaseId,
  modRevision: e.modRevision,
});

describe("the registry mirror's view", () => {
  test.prop([fc.array(entry, { maxLength: 40 })])(
    "is the entry (every field as given) and encodes as toLocation's message, shared parts or not",
    (entries) => {
      const view = mirrorViews();
      // Built together, so that gateway nodes, leases and times repeat and are shared.
      const views = entries.map(view);
      for (const [i, e] of entries.entries()) {
        expect(fields(views[i]!)).toEqual(fields(e));
        expect(toBinary(DeviceLocationSchema, views[i]!)).toEqual(
          toBinary(DeviceLocationSchema, toLocation(e)),
        );
      }
    },
  );

  test.prop([entry, entry])("shares a time only between equal times", (a, b) => {
    const view = mirrorViews();
    const [va, vb] = [view(a), view(b)];
    if (a.connectedAtMs === b.connectedAtMs) expect(vb.connectedAt).toBe(va.connectedAt);
    else expect(vb.connectedAt).not.toEqual(va.connectedAt);
  });
});
