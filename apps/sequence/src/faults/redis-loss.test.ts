import { test } from "@fast-check/vitest";
import {
  type MariaDbServer,
  type RedisServer,
  startMariaDb,
  startRedis,
  startTcpProxy,
  type TcpProxy,
} from "@im-core/testkit";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect } from "vitest";
import { groupChat, privateChat } from "../allocator/conversation.js";
import { testDeployment } from "../testing/backends.js";
import { checkGuarantees, runWorkload } from "../testing/workload.js";

/** The server the proxy sends clients to, and the one that stands by as its replica. */
let primary: RedisServer;
let standby: RedisServer;
let proxy: TcpProxy;
let mariadb: MariaDbServer;
let run = 0;

beforeAll(async () => {
  [primary, standby, mariadb] = await Promise.all([startRedis(), startRedis(), startMariaDb()]);
  proxy = await startTcpProxy(primary.port);
});
afterAll(async () => {
  await proxy?.close();
  await Promise.all([primary?.dispose(), standby?.dispose(), mariadb?.dispose()]);
});

const countsArb = fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 20, maxLength: 40 });

/** Two instances, two conversations, 8 callers: the guarantees hold whatever `faults` do. */
async function scenario(
  counts: number[],
  faults: (keys: string[]) => { after: number; inject: () => Promise<void> }[],
) {
  run += 1;
  const d = await testDeployment(await mariadb.createDatabase());
  const target = { url: `redis://127.0.0.1:${proxy.port}` };
  const instances = await Promise.all([d.instance(target), d.instance(target)]);
  const conversations = [groupChat(`g${run}`), privateChat(`u${run}`, `v${run}`)];
  const { calls } = await runWorkload({
    instances: instances.map((i) => i.allocator),
    conversations,
    callers: 8,
    counts,
    faults: faults(conversations.map((c) => c.key)),
  });
  checkGuarantees(calls);
  for (const call of calls)
    expect(call.last).toBeLessThanOrEqual(d.log.ceilingAt(call.conversation.id, call.endedAt));
  await d.close();
  return calls;
}

const losses = {
  restart: () => primary.restart(),
  flushall: () => primary.flushAll(),
  del: (keys: string[]) => primary.command("DEL", ...keys).then(() => {}),
} as const;

describe("Redis losses", () => {
  test.prop(
    [
      countsArb,
      fc.array(fc.record({ at: fc.nat(150), kind: fc.constantFrom("restart", "flushall", "del") }), {
        minLength: 1,
        maxLength: 3,
      }),
    ],
    { numRuns: 8, endOnFailure: true },
  )(
    "no duplicate or smaller number across restart, FLUSHALL and DEL at random points",
    async (counts, faults) => {
      await scenario(counts, (keys) =>
        faults.map(({ at, kind }) => ({ after: at, inject: () => losses[kind](keys) })),
      );
    },
  );

  test.prop([countsArb, fc.nat(100), fc.nat(150)], { numRuns: 5, endOnFailure: true })(
    "no duplicate or smaller number after a failover to a replica that missed writes",
    async (counts, detachAt, extra) => {
      const replica = standby;
      await replica.replicaOf(primary);
      await scenario(counts, () => [
        // The replica stops following (it keeps a copy as of now) while the primary goes on...
        { after: detachAt, inject: () => replica.replicaOf(null) },
        // ...then the clients are moved over to it, as a failover would.
        {
          after: detachAt + 1 + extra,
          inject: async () => {
            [standby, primary] = [primary, replica];
            proxy.switchTo(replica.port);
          },
        },
      ]);
    },
  );
});
