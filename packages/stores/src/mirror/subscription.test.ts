import { StoreError } from "@im-core/common";
import { describe, expect, it } from "vitest";
import type { ChangeBatch } from "../devices.js";
import { Subscription } from "./subscription.js";

const batch = (revision: number, user = "u"): ChangeBatch => ({
  revision,
  events: [
    {
      type: "put",
      revision,
      entry: {
        userId: user,
        deviceId: "d",
        gatewayNode: "gw",
        connectedAtMs: 0,
        leaseId: 1n,
        modRevision: revision,
      },
    },
  ],
});

describe("Subscription (one Watch stream's bounded queue)", () => {
  it("delivers batches in order, filtered by user and start revision", async () => {
    const feed = [
      [2, "a"],
      [3, "b"],
      [4, "a"],
      [5, "a"],
    ] as const;
    const sub = new Subscription({ users: new Set(["a"]), fromRevision: 3, maxBacklog: 10 });
    for (const [rev, user] of feed) sub.push(batch(rev, user));
    sub.close();
    const seen: number[] = [];
    for await (const b of sub) seen.push(b.revision);
    expect(seen).toEqual([]); // closed before reading: a closed stream delivers nothing more
    const open = new Subscription({ users: new Set(["a"]), fromRevision: 3, maxBacklog: 10 });
    for (const [rev, user] of feed) open.push(batch(rev, user));
    const iterator = open[Symbol.asyncIterator]();
    expect((await iterator.next()).value?.revision).toBe(4);
    expect((await iterator.next()).value?.revision).toBe(5);
  });

  it("ends a reader that falls more than maxBacklog events behind with exhausted, at once", async () => {
    let closed = false;
    const sub = new Subscription({ maxBacklog: 3, onClose: () => (closed = true) });
    for (let rev = 1; rev <= 5; rev++) sub.push(batch(rev));
    const iterator = sub[Symbol.asyncIterator]();
    const failure = await iterator.next().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(StoreError);
    expect((failure as StoreError).kind).toBe("exhausted");
    expect(closed).toBe(true);
  });

  it("does not count what the reader has already taken", async () => {
    const sub = new Subscription({ maxBacklog: 2 });
    const iterator = sub[Symbol.asyncIterator]();
    for (let rev = 1; rev <= 10; rev++) {
      sub.push(batch(rev));
      expect((await iterator.next()).value?.revision).toBe(rev);
    }
  });
});
