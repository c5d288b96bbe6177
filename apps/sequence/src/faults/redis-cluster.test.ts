import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { test } from "@fast-check/vitest";
import { SequenceService } from "@im-core/proto";
import { sequenceEntry } from "@im-core/sequence/entry";
import {
  httpGet,
  type MariaDbServer,
  type RedisCluster,
  type ServiceProcess,
  startMariaDb,
  startRedisCluster,
  startService,
} from "@im-core/testkit";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { groupChat, privateChat } from "../allocator/conversation.js";
import { testDeployment } from "../testing/backends.js";
import { checkGuarantees, runWorkload } from "../testing/workload.js";

let cluster: RedisCluster;
let mariadb: MariaDbServer;
let run = 0;

beforeAll(async () => {
  [cluster, mariadb] = await Promise.all([startRedisCluster({ masters: 3 }), startMariaDb()]);
});
afterAll(async () => {
  await Promise.all([cluster?.dispose(), mariadb?.dispose()]);
});

describe("Redis Cluster, 3 masters", () => {
  test.prop(
    [
      fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 20, maxLength: 30 }),
      fc.array(fc.record({ at: fc.nat(150), kind: fc.constantFrom("flushall", "del") }), { maxLength: 2 }),
    ],
    { numRuns: 4, endOnFailure: true },
  )("ranges stay disjoint and increasing across slots, FLUSHALL and DEL", async (counts, faults) => {
    run += 1;
    const d = await testDeployment(await mariadb.createDatabase());
    const target = { cluster: cluster.nodes.map((node) => node.url) };
    const instances = await Promise.all([d.instance(target), d.instance(target)]);
    await Promise.all(instances.map((i) => i.redis.waitReady(5_000)));
    // Enough conversations to land on every master.
    const conversations = [
      ...Array.from({ length: 4 }, (_, i) => groupChat(`c${run}-${i}`)),
      privateChat(`a${run}`, `b${run}`),
    ];
    const { calls } = await runWorkload({
      instances: instances.map((i) => i.allocator),
      conversations,
      callers: 6,
      counts,
      faults: faults.map(({ at, kind }) => ({
        after: at,
        inject: async () => {
          if (kind === "flushall") await Promise.all(cluster.nodes.map((node) => node.flushAll()));
          else for (const c of conversations) await instances[0]!.redis.client.del(c.key);
        },
      })),
    });
    checkGuarantees(calls);
    for (const call of calls)
      expect(call.last).toBeLessThanOrEqual(d.log.ceilingAt(call.conversation.id, call.endedAt));
    await d.close();
  });
});

// The built app as its own process (pnpm --dir apps/sequence build), configured the way an operator
// would: REDIS_CLUSTER_NODES naming the cluster's nodes.
async function startOnCluster(): Promise<ServiceProcess> {
  return startService({
    entry: sequenceEntry,
    env: {
      // Two seeds as host:port, one as a URL: any reachable seed finds the whole cluster.
      REDIS_CLUSTER_NODES: cluster.startupNodes
        .map(({ host, port }, i) => (i === 0 ? `redis://${host}:${port}` : `${host}:${port}`))
        .join(","),
      MYSQL_URL: await mariadb.createDatabase(),
      SEQUENCE_STEP: "100",
      AUTH_DISABLED: "true",
      SHUTDOWN_GRACE_MS: "500",
    },
  });
}

const group = (value: string) => ({ kind: { case: "groupId" as const, value } });

describe("the service on a Redis Cluster (REDIS_CLUSTER_NODES)", () => {
  it("the built service with REDIS_CLUSTER_NODES is ready, hands out increasing numbers on every master, and resumes above them after FLUSHALL", async () => {
    const service = await startOnCluster();
    try {
      expect((await httpGet(`${service.url}/readyz`)).status).toBe(200);
      const client = createClient(SequenceService, createGrpcTransport({ baseUrl: service.url }));
      // Twelve conversations spread over the three masters' slots.
      const conversations = Array.from({ length: 12 }, (_, i) => group(`cluster-${i}`));
      const before = await Promise.all(
        conversations.map((conversation) => client.next({ conversation, count: 150 })),
      );
      for (const range of before) expect([range.first, range.last]).toEqual([1n, 150n]);
      const { ranges } = await client.batchNext({
        items: conversations.flatMap((conversation) => [{ conversation }, { conversation, count: 2 }]),
      });
      for (let i = 0; i < conversations.length; i += 1) {
        expect([ranges[2 * i]!.first, ranges[2 * i + 1]!.first, ranges[2 * i + 1]!.last]).toEqual([
          151n,
          152n,
          153n,
        ]);
      }

      await Promise.all(cluster.nodes.map((node) => node.flushAll()));
      const after = await Promise.all(conversations.map((conversation) => client.next({ conversation })));
      for (const range of after) expect(range.first).toBeGreaterThan(153n);

      const metrics = (await httpGet(`${service.url}/metrics`)).body;
      expect(metrics).toMatch(/^sequence_reservations_total\{reason="seed",[^}]*\} (\d+)$/m);
      expect(Number(/^sequence_reservations_total\{reason="seed",[^}]*\} (\d+)$/m.exec(metrics)?.[1])).toBe(
        24,
      );
      expect(metrics).toMatch(/^sequence_epoch\{[^}]*\} 1$/m);
    } finally {
      await service.dispose();
    }
  });
});
