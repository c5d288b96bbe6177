import { fc, test } from "@fast-check/vitest";
import { type MariaDbServer, type RedisCluster, startMariaDb, startRedisCluster } from "@im-core/testkit";
import { afterAll, beforeAll, describe, expect } from "vitest";
import { testDeployment } from "../testing/backends.js";
import { checkGuarantees, runWorkload } from "../testing/workload.js";
import { groupChat, privateChat } from "./conversation.js";

let cluster: RedisCluster;
let mariadb: MariaDbServer;
let run = 0;

beforeAll(async () => {
  [cluster, mariadb] = await Promise.all([startRedisCluster({ masters: 3 }), startMariaDb()]);
});
afterAll(async () => {
  await Promise.all([cluster?.dispose(), mariadb?.dispose()]);
});

describe("Redis Cluster, 3 masters (16.1, 16.6)", () => {
  test.prop(
    [
      fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 20, maxLength: 30 }),
      fc.array(fc.record({ at: fc.nat(150), kind: fc.constantFrom("flushall", "del") }), { maxLength: 2 }),
    ],
    { numRuns: 4, endOnFailure: true },
  )("16.6: ranges stay disjoint and increasing across slots, FLUSHALL and DEL", async (counts, faults) => {
    run += 1;
    const d = await testDeployment(await mariadb.createDatabase());
    const target = { cluster: cluster.startupNodes };
    const instances = [d.instance(target), d.instance(target)];
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
