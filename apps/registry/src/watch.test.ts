import { Code, ConnectError } from "@connectrpc/connect";
import type { WatchResponse } from "@im-core/proto";
import { etcdJson, startEtcd } from "@im-core/testkit";
import { describe, expect, it } from "vitest";
import { registriesOnOneEtcd, startTestRegistry } from "./testing/registry.js";

const backend = registriesOnOneEtcd();
const registry = backend.registry;

/** Reads responses until `until` says stop (or the timeout passes), then cancels the stream. */
async function collect(
  stream: AsyncIterable<WatchResponse>,
  until: (responses: WatchResponse[]) => boolean,
  abort: AbortController,
  timeoutMs = 5_000,
): Promise<WatchResponse[]> {
  const responses: WatchResponse[] = [];
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  try {
    for await (const response of stream) {
      responses.push(response);
      if (until(responses)) break;
    }
  } catch (error) {
    if (!abort.signal.aborted) throw error;
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
  return responses;
}

const summary = (responses: WatchResponse[]) =>
  responses.flatMap((r) =>
    r.events.map(
      (e) =>
        `${e.type === 1 ? "PUT" : "DELETE"} ${e.location?.userId}/${e.location?.deviceId}@${e.location?.gatewayNode}`,
    ),
  );
const eventCount = (responses: WatchResponse[]) => responses.reduce((n, r) => n + r.events.length, 0);

describe.concurrent("Watch", () => {
  it("streams register, move, unregister and expiry in revision order; a DELETE carries the removed location", async () => {
    const { client } = await registry({ ttlSeconds: 1 });
    const abort = new AbortController();
    const stream = client.watch({}, { signal: abort.signal });
    const iterator = stream[Symbol.asyncIterator]();
    const first = (await iterator.next()).value as WatchResponse;
    expect(first.events).toEqual([]);
    const { leaseId } = await client.grantLease({ gatewayNode: "gw", ttlSeconds: 60 });
    await client.register({ userId: "u", deviceId: "d", gatewayNode: "gw-1", leaseId });
    await client.register({ userId: "u", deviceId: "d", gatewayNode: "gw-2", leaseId });
    await client.unregister({ userId: "u", deviceId: "d" });
    await client.register({ userId: "v", deviceId: "d", gatewayNode: "gw-3" }); // own 1 s lease: expires
    const rest = await collect({ [Symbol.asyncIterator]: () => iterator }, (r) => eventCount(r) >= 5, abort);
    expect(summary(rest)).toEqual([
      "PUT u/d@gw-1",
      "PUT u/d@gw-2",
      "DELETE u/d@gw-2",
      "PUT v/d@gw-3",
      "DELETE v/d@gw-3",
    ]);
    const revisions = rest.flatMap((r) => r.events.map((e) => e.revision));
    expect(revisions[0]).toBeGreaterThan(first.revision);
    expect(revisions).toEqual([...revisions].sort((a, b) => Number(a - b)));
    for (const r of rest) for (const e of r.events) expect(e.revision).toBeLessThanOrEqual(r.revision);
  });

  it("filters by user_ids", async () => {
    const { client } = await registry();
    const abort = new AbortController();
    const stream = client.watch({ userIds: ["b", "c"] }, { signal: abort.signal });
    const pending = collect(stream, (r) => eventCount(r) >= 2, abort);
    await new Promise((r) => setTimeout(r, 100));
    for (const user of ["a", "b", "c", "d"])
      await client.register({ userId: user, deviceId: "x", gatewayNode: "gw" });
    expect(summary(await pending)).toEqual(["PUT b/x@gw", "PUT c/x@gw"]);
  });

  it("resumes from start_revision with nothing missed and nothing repeated, from the mirror or from etcd", async () => {
    const root = `/t/resume-${Date.now()}/`;
    const { client } = await registry({ keyRoot: root });
    // A second instance whose mirror keeps only 2 events of history: resumes go to etcd.
    const small = await registry({ keyRoot: root });
    const start = (await client.lookup({ userId: "x" })).revision + 1n;
    for (let i = 0; i < 6; i++)
      await client.register({ userId: `u${i % 2}`, deviceId: `d${i}`, gatewayNode: "gw" });
    await client.unregister({ userId: "u0", deviceId: "d0" });
    const all = await collect(
      client.watch({ startRevision: start }),
      (r) => eventCount(r) >= 7,
      new AbortController(),
    );
    expect(eventCount(all)).toBe(7);
    expect(all[0]?.revision).toBe(start - 1n);
    const cut = all.find((r) => r.events.length > 0 && eventCount(all.slice(0, all.indexOf(r) + 1)) >= 3)!;
    for (const c of [client, small.client]) {
      const resumed = await collect(
        c.watch({ startRevision: cut.revision + 1n }),
        (r) => eventCount(r) >= 4,
        new AbortController(),
      );
      expect(summary(resumed)).toEqual(summary(all).slice(eventCount(all.slice(0, all.indexOf(cut) + 1))));
    }
  });

  it("fails with OUT_OF_RANGE when start_revision was compacted, telling the client to re-read", async () => {
    // Its own etcd: compacting the shared one would cancel the other cases' watches.
    await using etcd = await startEtcd();
    const instance = await startTestRegistry({ endpoints: etcd.endpoints });
    const { client } = instance;
    const before = await client.register({ userId: "u", deviceId: "d", gatewayNode: "gw" });
    expect(before).toBeDefined();
    const rev = (await client.lookup({ userId: "u" })).revision;
    await client.register({ userId: "u", deviceId: "d", gatewayNode: "gw-2" });
    const now = (await client.lookup({ userId: "u" })).revision;
    await etcdJson(etcd.endpoints[0]!, "/v3/kv/compaction", {
      revision: String(now),
      physical: true,
    });
    try {
      for await (const _ of client.watch({ startRevision: rev - 5n > 0n ? rev - 5n : 1n })) break;
      expect.unreachable();
    } catch (error) {
      const e = ConnectError.from(error);
      expect(Code[e.code]).toBe("OutOfRange");
      expect(e.rawMessage).toMatch(/compacted/);
    } finally {
      await instance.close();
    }
  });
});

describe("Watch while its instance shuts down", () => {
  it("ends with UNAVAILABLE and a message saying where to resume, never with a normal end", async () => {
    const instance = await startTestRegistry({ endpoints: backend.etcd.endpoints });
    const { client } = instance;
    const stream = client.watch({ userIds: ["drained"] });
    const received: WatchResponse[] = [];
    const ended = (async () => {
      for await (const response of stream) {
        received.push(response);
        if (received.length === 1) {
          await client.register({ userId: "drained", deviceId: "d", gatewayNode: "gw" });
        }
        if (received.length === 2) void instance.close();
      }
    })();
    const error = ConnectError.from(
      await ended.then(
        () => new Error("the stream ended normally"),
        (e) => e,
      ),
    );
    expect(Code[error.code]).toBe("Unavailable");
    const last = received.at(-1)!.revision;
    expect(error.rawMessage).toContain(`start_revision ${last + 1n}`);
  });
});
