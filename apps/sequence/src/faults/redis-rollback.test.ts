import { test } from "@fast-check/vitest";
import { isStoreError, sleep } from "@im-core/common";
import { type MariaDbServer, type RedisServer, startMariaDb, startRedis } from "@im-core/testkit";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SequenceRange } from "../allocator/allocator.js";
import { groupChat, privateChat } from "../allocator/conversation.js";
import { testDeployment } from "../testing/backends.js";
import { checkGuarantees, runWorkload } from "../testing/workload.js";

/**
 * A Redis server rolled back in place, its run_id unchanged: a stale copy of its data (a replica
 * detached earlier) is replicated back into it, then it is promoted again. Nothing about the
 * connection needs to change, so only a check on every script call can notice.
 */

let primary: RedisServer;
let copy: RedisServer;
let mariadb: MariaDbServer;
let run = 0;

beforeAll(async () => {
  [primary, copy, mariadb] = await Promise.all([startRedis(), startRedis(), startMariaDb()]);
});
afterAll(async () => {
  await Promise.all([primary?.dispose(), copy?.dispose(), mariadb?.dispose()]);
});

/** Keeps a copy of the primary's data as of now (a replica that then stops following). */
async function snapshot(): Promise<void> {
  await copy.replicaOf(primary);
  await copy.replicaOf(null);
}

/** Replaces the primary's data with the copy through a full resync, then promotes it again. */
async function rollBack(opts: { cutConnections: boolean }): Promise<void> {
  await primary.replicaOf(copy);
  await primary.replicaOf(null);
  // As Sentinel does after a promotion: every client reconnects.
  if (opts.cutConnections) await primary.command("CLIENT", "KILL", "TYPE", "normal");
}

const runIdOf = async (server: RedisServer) =>
  /run_id:(\w+)/.exec((await server.command("INFO", "server")) ?? "")?.[1];

describe("an in-place rollback of Redis through replication", () => {
  for (const cutConnections of [false, true]) {
    it(`never hands a number out twice (connections ${cutConnections ? "cut" : "kept"})`, async () => {
      run += 1;
      const d = await testDeployment(await mariadb.createDatabase());
      const { allocator } = await d.instance({ url: primary.url });
      const conversation = groupChat(`rollback-${run}`);
      /** Three numbers, one call each; a call refused while the connection is re-made is retried. */
      const three = async () => {
        const ranges: SequenceRange[] = [];
        while (ranges.length < 3) {
          try {
            ranges.push(await allocator.next(conversation, 1));
          } catch (error) {
            if (!isStoreError(error) || error.kind !== "unavailable") throw error;
            await sleep(20);
          }
        }
        return ranges.map((range) => range.first);
      };
      const runId = await runIdOf(primary);

      expect(await three()).toEqual([1, 2, 3]);
      await snapshot(); // the copy holds 3
      // A master's first replica makes Redis draw a new replication id, which costs one jump.
      const before = await three();
      expect(before[0]).toBeGreaterThan(3);
      await rollBack({ cutConnections });
      expect(await runIdOf(primary)).toBe(runId); // the same server process all along
      const after = await three();
      expect(after[0]).toBeGreaterThan(before[2]!);
      expect(after).toEqual([...after].sort((a, b) => a - b));
      await d.close();
    });
  }
});

const countsArb = fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 20, maxLength: 40 });
const faultArb = fc.record({
  at: fc.nat(150),
  kind: fc.constantFrom("rollback", "rollback-cut", "restart", "flushall"),
  /** How many calls earlier the copy that is rolled back to was taken. */
  age: fc.integer({ min: 1, max: 60 }),
});

describe("any history of rollbacks, restarts and FLUSHALL", () => {
  test.prop([countsArb, fc.array(faultArb, { minLength: 1, maxLength: 3 })], {
    numRuns: 6,
    endOnFailure: true,
  })("no number twice and none smaller for any caller, across two instances", async (counts, faults) => {
    run += 1;
    const d = await testDeployment(await mariadb.createDatabase());
    const instances = await Promise.all([d.instance({ url: primary.url }), d.instance({ url: primary.url })]);
    const conversations = [groupChat(`any-${run}`), privateChat(`u-${run}`, `v-${run}`)];
    const schedule = faults.flatMap(({ at, kind, age }) => {
      if (kind === "restart") return [{ after: at, inject: () => primary.restart() }];
      if (kind === "flushall") return [{ after: at, inject: () => primary.flushAll() }];
      const cutConnections = kind === "rollback-cut";
      return [
        { after: Math.max(0, at - age), inject: snapshot },
        { after: at, inject: () => rollBack({ cutConnections }) },
      ];
    });
    const { calls } = await runWorkload({
      instances: instances.map((i) => i.allocator),
      conversations,
      callers: 8,
      counts,
      faults: schedule,
    });
    checkGuarantees(calls);
    await d.close();
  });
});
