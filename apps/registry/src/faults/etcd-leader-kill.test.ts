import { Code, ConnectError } from "@connectrpc/connect";
import { type EtcdCluster, startEtcdCluster } from "@im-core/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestRegistry, type TestRegistry } from "../testing/registry.js";

let cluster: EtcdCluster;
let registry: TestRegistry;
beforeAll(async () => {
  cluster = await startEtcdCluster({ size: 3 });
  registry = await startTestRegistry({ endpoints: cluster.endpoints, callTimeoutMs: 4_000 });
});
afterAll(async () => {
  await registry?.close();
  await cluster?.dispose();
});

describe("3-node etcd cluster", () => {
  it("8 workers registering on a shared lease each read their own writes back (throughput printed)", async () => {
    const { client } = registry;
    const { leaseId } = await client.grantLease({ gatewayNode: "gw", ttlSeconds: 120 });
    let registered = 0;
    const missing: string[] = [];
    let stop = false;
    const worker = async (w: number) => {
      for (let i = 0; !stop; i++) {
        const userId = `t${w}-u${i}`;
        await client.register({ userId, deviceId: "d", gatewayNode: "gw", leaseId });
        registered++;
        const { devices } = await client.lookup({ userId });
        if (devices.length !== 1) missing.push(userId);
      }
    };
    const running = Array.from({ length: 8 }, (_, w) => worker(w));
    await new Promise((r) => setTimeout(r, 500)); // warm-up: connections, JIT
    const warm = registered;
    const started = performance.now();
    await new Promise((r) => setTimeout(r, 2_000));
    const counted = registered - warm;
    const seconds = (performance.now() - started) / 1000;
    stop = true;
    await Promise.all(running);
    console.log(
      `3-node cluster: ${(counted / seconds).toFixed(0)} Register+Lookup pairs/s over gRPC with 8 workers ` +
        `(${counted} in ${seconds.toFixed(1)} s after a 0.5 s warm-up)`,
    );
    expect(missing).toEqual([]); // every registration visible to the instance's next lookup
    expect(registered).toBeGreaterThan(0);
  });

  it("killing the leader under load loses no acknowledged registration and fails few calls", async () => {
    const { client } = registry;
    const { leaseId } = await client.grantLease({ gatewayNode: "gw", ttlSeconds: 120 });
    const acknowledged: string[] = [];
    const failures: string[] = [];
    let calls = 0;
    let stop = false;
    const worker = async (w: number) => {
      for (let i = 0; !stop; i++) {
        const userId = `w${w}-u${i}`;
        calls++;
        try {
          await client.register({ userId, deviceId: "d", gatewayNode: "gw", leaseId }, { timeoutMs: 5_000 });
          acknowledged.push(userId);
          calls++;
          await client.lookup({ userId }, { timeoutMs: 5_000 });
        } catch (error) {
          failures.push(Code[ConnectError.from(error).code]);
        }
      }
    };
    const running = Array.from({ length: 8 }, (_, w) => worker(w));
    await new Promise((r) => setTimeout(r, 700));
    const leader = await cluster.leaderIndex();
    await cluster.nodes[leader]!.kill();
    const killedAt = acknowledged.length;
    await new Promise((r) => setTimeout(r, 2_000));
    stop = true;
    await Promise.all(running);
    console.log(
      `leader kill: ${calls} calls, ${acknowledged.length} registrations acknowledged (${killedAt} before the kill), ` +
        `${failures.length} failed (${[...new Set(failures)].join(", ") || "none"})`,
    );
    expect(acknowledged.length).toBeGreaterThan(killedAt);
    // Every acknowledged registration is still there, read from etcd through the surviving members.
    const found = new Set<string>();
    for (let i = 0; i < acknowledged.length; i += 1000) {
      const { devices } = await client.batchLookup({ userIds: acknowledged.slice(i, i + 1000) });
      for (const d of devices) found.add(d.userId);
    }
    expect(acknowledged.filter((u) => !found.has(u))).toEqual([]);
    expect(failures.length).toBeLessThanOrEqual(Math.max(2, calls * 0.01));
  });
});
