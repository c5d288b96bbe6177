import { sleep } from "@im-core/common";
import { eventually } from "@im-core/testkit";
import { describe, expect, it } from "vitest";
import { Deadlines } from "./deadlines.js";

describe("Deadlines", () => {
  it("expires each request still tracked, never before its own time, and no forgotten one", async () => {
    const timeoutMs = 50;
    const trackedAt = new Map<string, number>();
    const expired: { name: string; afterMs: number }[] = [];
    const deadlines = new Deadlines<{ name: string }>(timeoutMs, ({ name }) =>
      expired.push({ name, afterMs: performance.now() - trackedAt.get(name)! }),
    );
    const track = (name: string) => {
      const request = { name };
      trackedAt.set(name, performance.now());
      deadlines.track(request);
      return request;
    };
    track("first");
    const answered = track("answered");
    await sleep(20);
    track("late");
    deadlines.forget(answered);
    await eventually(() => expect(expired.map((e) => e.name)).toEqual(["first", "late"]));
    // Once every tracked request is settled, the next one sets the timer again.
    track("again");
    await eventually(() => expect(expired.map((e) => e.name)).toEqual(["first", "late", "again"]));
    // Less a millisecond: the test reads the clock just before `track` does.
    for (const { afterMs } of expired) expect(afterMs).toBeGreaterThanOrEqual(timeoutMs - 1);
  });
});
