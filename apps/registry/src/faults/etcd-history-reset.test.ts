import { Code, ConnectError } from "@connectrpc/connect";
import type { WatchResponse } from "@im-core/proto";
import { etcdJson, eventually, startEtcd, startTcpProxy, type TcpProxy } from "@im-core/testkit";
import { afterAll, describe, expect, it } from "vitest";

import { startTestRegistry, type TestRegistry } from "../testing/registry.js";

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  await Promise.all(cleanups.map((cleanup) => cleanup()));
});

async function registry(options: Parameters<typeof startTestRegistry>[0]): Promise<TestRegistry> {
  const started = await startTestRegistry({ callTimeoutMs: 1_500, ...options });
  cleanups.push(() => started.close());
  return started;
}

const devicesOf = (devices: { userId: string; deviceId: string; gatewayNode: string }[]) =>
  devices.map((d) => `${d.userId}/${d.deviceId}@${d.gatewayNode}`).sort();

/** A Watch client that reads everything and remembers the last revision and how the stream ended. */
function follow(instance: TestRegistry) {
  const abort = new AbortController();
  const seen = { revision: 0n, events: 0, ended: undefined as ConnectError | undefined, first: false };
  const done = (async () => {
    try {
      for await (const response of instance.client.watch({}, { signal: abort.signal })) {
        seen.first = true;
        seen.revision = response.revision;
        seen.events += response.events.length;
      }
    } catch (error) {
      seen.ended = ConnectError.from(error);
    }
  })();
  cleanups.push(async () => {
    abort.abort();
    await done;
  });
  return seen;
}

async function codeOf(stream: AsyncIterable<WatchResponse>): Promise<{ code: string; message: string }> {
  try {
    for await (const _ of stream) break;
    return { code: "OK", message: "" };
  } catch (error) {
    const e = ConnectError.from(error);
    return { code: Code[e.code], message: e.rawMessage };
  }
}

/** After OUT_OF_RANGE, the documented recovery: re-read, then watch from the read's revision + 1. */
async function reReadAndWatch(instance: TestRegistry, users: string[]) {
  const { revision } = await instance.client.batchLookup({ userIds: users });
  const abort = new AbortController();
  const iterator = instance.client
    .watch({ startRevision: revision + 1n }, { signal: abort.signal })
    [Symbol.asyncIterator]();
  const first = (await iterator.next()).value as WatchResponse;
  expect(first.revision).toBe(revision);
  await instance.client.register({ userId: "after", deviceId: "d", gatewayNode: "gw-after" });
  const next = (await iterator.next()).value as WatchResponse;
  expect(next.events.map((e) => `${e.type} ${e.location?.userId}@${e.location?.gatewayNode}`)).toEqual([
    "1 after@gw-after",
  ]);
  abort.abort();
}

// Every case on an etcd of its own: each compacts or wipes the etcd it watches.
describe.concurrent("mirror reload", () => {
  it("after its watch was compacted away: Lookup equals etcd, Watch clients get OUT_OF_RANGE and re-read", async () => {
    const etcd = await startEtcd();
    cleanups.push(() => etcd.dispose());
    // This instance reaches etcd through a proxy the test cuts; the test writes and compacts directly.
    const proxy: TcpProxy = await startTcpProxy(etcd.port);
    cleanups.push(() => proxy.close());
    const keyRoot = `/t/compact-${Date.now()}/`;
    const instance = await registry({ endpoints: [proxy.endpoint], keyRoot });
    const direct = await registry({ endpoints: etcd.endpoints, keyRoot });
    const users = ["u1", "u2", "u3", "u4"];
    const watcher = follow(instance);
    await eventually(() => expect(watcher.first).toBe(true));
    const { leaseId } = await instance.client.grantLease({ gatewayNode: "gw", ttlSeconds: 60 });
    for (const userId of ["u1", "u2", "u3"])
      await instance.client.register({ userId, deviceId: "d", gatewayNode: "gw-1", leaseId });
    await eventually(() => expect(watcher.events).toBe(3));

    proxy.cut();
    await eventually(() => expect(instance.mirror.live).toBe(false));
    await direct.registrar.register({ userId: "u4", deviceId: "d", gatewayNode: "gw-2", leaseId });
    await direct.registrar.register({ userId: "u2", deviceId: "d", gatewayNode: "gw-2", leaseId });
    await direct.store.unregister({ userId: "u1", deviceId: "d" });
    const now = await direct.store.currentRevision();
    await etcdJson(etcd.endpoints[0]!, "/v3/kv/compaction", { revision: String(now), physical: true });
    proxy.restore();

    // The watch resumes at a compacted revision: the mirror reloads and is current again.
    await eventually(() => {
      expect(instance.mirror.stats().loads).toBe(2);
      expect(instance.mirror.live).toBe(true);
    });
    const truth = devicesOf((await direct.store.lookup(users)).entries);
    expect(truth).toEqual(["u2/d@gw-2", "u3/d@gw-1", "u4/d@gw-2"]);
    expect(devicesOf((await instance.client.batchLookup({ userIds: users })).devices)).toEqual(truth);
    expect(devicesOf(instance.mirror.lookup(users)!.entries)).toEqual(truth); // served from memory

    // The stream that was open is ended; resuming where it stopped is OUT_OF_RANGE, as documented.
    await eventually(() => expect(watcher.ended).toBeDefined());
    expect(Code[watcher.ended!.code]).toBe("Unavailable");
    expect(await codeOf(instance.client.watch({ startRevision: watcher.revision + 1n }))).toMatchObject({
      code: "OutOfRange",
      message: expect.stringMatching(/compacted/),
    });
    await reReadAndWatch(instance, users);
  });

  it("after etcd's revision went backwards (restarted with wiped data): Lookup equals etcd, resumes get OUT_OF_RANGE", async () => {
    const own = await startEtcd();
    cleanups.push(() => own.dispose());
    const instance = await registry({ endpoints: own.endpoints });
    const users = Array.from({ length: 8 }, (_, i) => `u${i}`);
    const watcher = follow(instance);
    await eventually(() => expect(watcher.first).toBe(true));
    const { leaseId } = await instance.client.grantLease({ gatewayNode: "gw", ttlSeconds: 60 });
    for (const userId of users)
      await instance.client.register({ userId, deviceId: "d", gatewayNode: "gw-old", leaseId });
    await eventually(() => expect(watcher.events).toBe(users.length));
    const before = instance.mirror.revision;

    await own.restart({ wipe: true });
    await eventually(() => {
      expect(instance.mirror.stats().loads).toBe(2);
      expect(instance.mirror.live).toBe(true);
    });
    expect(instance.mirror.revision).toBeLessThan(before);
    expect((await instance.client.batchLookup({ userIds: users })).devices).toEqual([]);
    expect((await instance.store.lookup(users)).entries).toEqual([]);
    // The old lease went with the data; a new registration is seen at once, from the mirror.
    const stale = await instance.client
      .register({ userId: "u0", deviceId: "d", gatewayNode: "gw", leaseId })
      .then(
        () => "OK",
        (error: unknown) => Code[ConnectError.from(error).code],
      );
    expect(stale).toBe("NotFound");
    await instance.client.register({ userId: "u1", deviceId: "d", gatewayNode: "gw-new" });
    expect(devicesOf((await instance.client.lookup({ userId: "u1" })).devices)).toEqual(["u1/d@gw-new"]);
    expect(instance.mirror.lookup(["u1"])).toBeDefined(); // the old write floor no longer blocks it

    await eventually(() => expect(watcher.ended).toBeDefined());
    expect(Code[watcher.ended!.code]).toBe("Unavailable");
    expect(await codeOf(instance.client.watch({ startRevision: watcher.revision + 1n }))).toMatchObject({
      code: "OutOfRange",
      message: expect.stringMatching(/ahead of etcd's revision/),
    });
    await reReadAndWatch(instance, users);
  });
});
