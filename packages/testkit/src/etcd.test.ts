import { existsSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { eventually } from "./eventually.js";
import { etcdJson, startEtcd, startEtcdCluster } from "./index.js";

const b64 = (s: string) => Buffer.from(s).toString("base64");

async function put(endpoint: string, key: string, value: string): Promise<void> {
  await etcdJson(endpoint, "/v3/kv/put", { key: b64(key), value: b64(value) });
}

/** `serializable` reads the member's own copy instead of asking the leader. */
async function get(endpoint: string, key: string, serializable = false): Promise<string | undefined> {
  const res = await etcdJson<{ kvs?: { value: string }[] }>(endpoint, "/v3/kv/range", {
    key: b64(key),
    serializable,
  });
  const value = res.kvs?.[0]?.value;
  return value === undefined ? undefined : Buffer.from(value, "base64").toString();
}

describe.concurrent("startEtcd", () => {
  test("keeps data across kill -9 and loses it on a wiped restart", async () => {
    await using etcd = await startEtcd();
    const [endpoint] = etcd.endpoints;
    await put(endpoint!, "a/b", "1");
    const { pid, port } = etcd;
    await etcd.kill();
    expect(etcd.pid).toBeUndefined();
    await etcd.restart();
    expect(etcd.pid).not.toBe(pid);
    expect(etcd.port).toBe(port);
    expect(await get(endpoint!, "a/b")).toBe("1");
    await etcd.restart({ wipe: true });
    expect(await get(endpoint!, "a/b")).toBeUndefined();
  });

  test("grants 1 s leases that expire (fast timing)", async () => {
    await using etcd = await startEtcd();
    const lease = await etcdJson<{ ID: string; TTL: string }>(etcd.endpoints[0]!, "/v3/lease/grant", {
      TTL: 1,
    });
    expect(lease.TTL).toBe("1");
    await etcdJson(etcd.endpoints[0]!, "/v3/kv/put", { key: b64("l"), value: b64("x"), lease: lease.ID });
    await eventually(async () => expect(await get(etcd.endpoints[0]!, "l")).toBeUndefined(), 5000);
  });

  test("pause stops answers, resume brings them back; stop is graceful", async () => {
    await using etcd = await startEtcd();
    etcd.pause();
    await expect(
      fetch(`${etcd.endpoints[0]}/health`, { signal: AbortSignal.timeout(300) }),
    ).rejects.toThrow();
    etcd.resume();
    expect((await fetch(`${etcd.endpoints[0]}/health`)).status).toBe(200);
    etcd.pause();
    await etcd.stop();
    expect(etcd.pid).toBeUndefined();
  });

  test("refuses a fixed port that is busy, and disposes its temp dir", async () => {
    const etcd = await startEtcd();
    await expect(startEtcd({ port: etcd.port })).rejects.toThrow(/already in use/);
    await etcd.dispose();
    await etcd.dispose();
    expect(existsSync(etcd.home)).toBe(false);
  });
});

describe("startEtcdCluster", () => {
  test("elects a new leader when the leader is killed, and the old one rejoins", async () => {
    await using cluster = await startEtcdCluster({ size: 3 });
    expect(cluster.endpoints).toHaveLength(3);
    const leader = await cluster.leaderIndex();
    const follower = cluster.nodes[(leader + 1) % 3]!;
    await put(follower.endpoints[0]!, "k", "before");

    await cluster.nodes[leader]!.kill();
    const newLeader = await cluster.leaderIndex();
    expect(newLeader).not.toBe(leader);
    await eventually(() => put(follower.endpoints[0]!, "k", "during"));

    await cluster.nodes[leader]!.restart();
    await eventually(async () =>
      expect(await get(cluster.nodes[leader]!.endpoints[0]!, "k", true)).toBe("during"),
    );
  });
});
