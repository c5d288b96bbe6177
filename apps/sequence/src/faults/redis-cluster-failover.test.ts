import { isStoreError, sleep } from "@im-core/common";
import {
  type MariaDbServer,
  type RedisCluster,
  type RedisServer,
  startMariaDb,
  startRedis,
  startRedisCluster,
} from "@im-core/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { groupChat } from "../allocator/conversation.js";
import { testDeployment } from "../testing/backends.js";
import { checkGuarantees, runWorkload } from "../testing/workload.js";

/**
 * A Redis Cluster whose data lineage changes under the instances' live connections: a replica joins a
 * master (which makes the master draw a new replication id), then takes over from it. Each script call
 * checks the replication id of the master holding its key, so both are noticed on that node's next call.
 */

let cluster: RedisCluster;
let replica: RedisServer;
let mariadb: MariaDbServer;

beforeAll(async () => {
  [cluster, replica, mariadb] = await Promise.all([
    startRedisCluster({ masters: 3 }),
    startRedis({ clusterEnabled: true }),
    startMariaDb(),
  ]);
});
afterAll(async () => {
  await Promise.all([cluster?.dispose(), replica?.dispose(), mariadb?.dispose()]);
});

const nodeId = async (node: RedisServer) => ((await node.command("CLUSTER", "MYID")) ?? "").trim();

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(50);
  }
}

/** `replica` joins the cluster as a replica of `master` and waits for its full sync. */
async function attachReplica(master: RedisServer): Promise<void> {
  await replica.command("CLUSTER", "MEET", master.host, master.port);
  const id = await nodeId(master);
  await until("the new node knows the master", async () =>
    ((await replica.command("CLUSTER", "NODES")) ?? "").includes(id),
  );
  await replica.command("CLUSTER", "REPLICATE", id);
  await until("the replica is in sync", async () =>
    ((await replica.command("INFO", "replication")) ?? "").includes("master_link_status:up"),
  );
  // A failover needs the masters' votes: the replica must know all of them first.
  await until("the replica knows the whole cluster", async () => {
    const info = (await replica.command("CLUSTER", "INFO")) ?? "";
    return (
      info.includes("cluster_state:ok") && info.includes(`cluster_known_nodes:${cluster.nodes.length + 1}`)
    );
  });
}

/** The replica takes over from its master (a coordinated failover, as an operator or orchestrator runs it). */
async function failOver(): Promise<void> {
  // Asked again while it has not happened: a coordinated failover gives up after a while by itself.
  let asked = 0;
  await until("the replica is a master", async () => {
    if ((await replica.command("INFO", "replication"))?.includes("role:master")) return true;
    if (asked++ % 60 === 0) await replica.command("CLUSTER", "FAILOVER");
    return false;
  });
}

describe("a Redis Cluster master changing lineage under live connections", () => {
  it("hands out no number twice and none smaller, across a replica joining a master and taking over", async () => {
    const d = await testDeployment(await mariadb.createDatabase());
    const target = { cluster: cluster.nodes.map((node) => node.url) };
    const instances = await Promise.all([d.instance(target), d.instance(target)]);
    await Promise.all(instances.map((i) => i.redis.waitReady(5_000)));
    const [first] = cluster.nodes;
    // Half of them on the master whose lineage changes (a key elsewhere gets MOVED from it).
    const onFirst = async (key: string) =>
      first!.command("EXISTS", key).then(
        () => true,
        () => false,
      );
    const conversations: ReturnType<typeof groupChat>[] = [];
    for (let i = 0, mine = 0; conversations.length < 6; i += 1) {
      const conversation = groupChat(`lineage-${i}`);
      const here = await onFirst(conversation.key);
      if (here ? mine < 3 : conversations.length - mine < 3) {
        conversations.push(conversation);
        if (here) mine += 1;
      }
    }
    const { calls } = await runWorkload({
      instances: instances.map((i) => i.allocator),
      conversations,
      callers: 6,
      counts: Array.from({ length: 40 }, (_, i) => 1 + (i % 7)),
      faults: [
        { after: 40, inject: () => attachReplica(first!) },
        { after: 120, inject: failOver },
      ],
    });
    // And once every fault is over, from both instances: still above everything handed out.
    const highest = new Map<string, number>();
    for (const call of calls)
      highest.set(call.conversation.key, Math.max(highest.get(call.conversation.key) ?? 0, call.last));
    for (const { allocator } of instances) {
      const items = conversations.map((conversation) => ({ conversation, count: 1 }));
      // Until the client has followed the cluster's new layout, calls fail UNAVAILABLE: retry, as callers do.
      let ranges: Awaited<ReturnType<typeof allocator.nextMany>> | undefined;
      const started = performance.now();
      for (let attempt = 1; !ranges; attempt += 1) {
        ranges = await allocator.nextMany(items).catch(async (error: unknown) => {
          if (!isStoreError(error) || error.kind !== "unavailable" || attempt === 100) throw error;
          await sleep(50);
          return undefined;
        });
      }
      console.log(`served again after the failover in ${Math.round(performance.now() - started)} ms`);
      ranges.forEach((range, i) => {
        const key = conversations[i]!.key;
        expect(range.first).toBeGreaterThan(highest.get(key)!);
        highest.set(key, range.last);
      });
      expect(allocator.epoch).toBeGreaterThan(1); // the changes were noticed
    }
    checkGuarantees(calls);
    for (const call of calls)
      expect(call.last).toBeLessThanOrEqual(d.log.ceilingAt(call.conversation.id, call.endedAt));
    await d.close();
  });
});
