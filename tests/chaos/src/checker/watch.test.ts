import { describe, expect, it } from "vitest";
import type { WatchEventRecord, WatchSegment } from "../history.js";
import { checkWatch } from "./watch.js";

const event = (revision: number, deviceId = "d"): WatchEventRecord => ({
  revision,
  type: "put",
  userId: "u",
  deviceId,
  gatewayNode: "gw",
  leaseId: "7",
});
const segment = (
  startRevision: number,
  firstRevision: number,
  events: WatchEventRecord[],
  end = "unavailable",
): WatchSegment => ({
  stream: "s",
  instance: 0,
  startRevision,
  openedMs: startRevision,
  firstRevision,
  responses: [{ atMs: 0, revision: events.at(-1)?.revision ?? firstRevision, events }],
  end,
});
const etcd = [event(3), event(4), event(5), event(6)];
const spec = [{ stream: "s", userIds: [] }];

describe("the watch checker", () => {
  it("accepts a stream resumed from its last revision + 1 that saw exactly etcd's events", () => {
    const findings = checkWatch(
      spec,
      [segment(0, 2, [event(3), event(4)]), segment(5, 4, [event(5), event(6)], "normal")],
      etcd,
    );
    expect(findings.violations).toEqual([]);
  });

  it("reports an event missed across a resume", () => {
    const findings = checkWatch(spec, [segment(0, 2, [event(3)]), segment(5, 4, [event(5), event(6)])], etcd);
    expect(findings.violations.join()).toMatch(/missed 1/);
  });

  it("reports an event delivered twice", () => {
    const findings = checkWatch(
      spec,
      [segment(0, 2, [event(3), event(4)]), segment(5, 4, [event(4), event(5), event(6)])],
      etcd,
    );
    expect(findings.violations.join()).toMatch(/extra or repeated 1/);
  });
});
