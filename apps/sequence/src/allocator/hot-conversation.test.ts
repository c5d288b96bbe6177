import { fc, test } from "@fast-check/vitest";
import { type MariaDbServer, type RedisServer, startMariaDb, startRedis } from "@im-core/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testDeployment } from "../testing/backends.js";
import { type Call, checkGuarantees } from "../testing/workload.js";
import type { SequenceAllocator } from "./allocator.js";
import { type ConversationRef, groupChat } from "./conversation.js";

let redis: RedisServer;
let mariadb: MariaDbServer;
let run = 0;

beforeAll(async () => {
  [redis, mariadb] = await Promise.all([startRedis(), startMariaDb()]);
});
afterAll(async () => {
  await Promise.all([redis?.dispose(), mariadb?.dispose()]);
});

/** Script calls Redis ran since the last reset (EVALSHA, plus EVAL when the script was not cached). */
async function scriptCalls(): Promise<number> {
  const stats = (await redis.command("INFO", "commandstats")) ?? "";
  let calls = 0;
  for (const match of stats.matchAll(/^cmdstat_(?:evalsha|eval):calls=(\d+)/gm)) calls += Number(match[1]);
  return calls;
}

/** Each caller's calls in turn (awaiting each), all callers at once; no call is retried. */
async function callers(
  pick: (caller: number, call: number) => SequenceAllocator,
  conversation: ConversationRef,
  counts: readonly (readonly number[])[],
): Promise<Call[]> {
  const calls: Call[] = [];
  await Promise.all(
    counts.map(async (mine, caller) => {
      for (const [i, count] of mine.entries()) {
        const startedAt = performance.now();
        const range = await pick(caller, i).next(conversation, count);
        calls.push({ ...range, conversation, caller, startedAt, endedAt: performance.now() });
        expect(range.last - range.first + 1).toBe(count);
      }
    }),
  );
  return calls;
}

describe("one hot conversation (16.1, 16.7)", () => {
  test.prop(
    [
      fc.array(fc.array(fc.integer({ min: 1, max: 10_000 }), { minLength: 1, maxLength: 3 }), {
        minLength: 2,
        maxLength: 64,
      }),
    ],
    { numRuns: 6, endOnFailure: true },
  )(
    "16.1: up to 64 concurrent callers with counts up to 10,000 on one conversation, two instances, step 100: every call succeeds at once",
    async (counts) => {
      run += 1;
      const d = await testDeployment(await mariadb.createDatabase());
      const instances = [d.instance({ url: redis.url }), d.instance({ url: redis.url })];
      const chat = groupChat(`hot-${run}`);
      const calls = await callers((caller, i) => instances[(caller + i) % 2]!.allocator, chat, counts);
      expect(calls.length).toBe(counts.flat().length);
      checkGuarantees(calls);
      for (const call of calls) expect(call.last).toBeLessThanOrEqual(d.log.ceilingAt(chat.id, call.endedAt));
      // Reservations are sized for everyone waiting: far fewer MySQL writes than steps used would be
      // without it, and never more than about one per call.
      expect(d.log.entries.length).toBeLessThanOrEqual(2 * calls.length + 4);
      await d.close();
    },
  );

  it("64 concurrent Next calls on one conversation share a few script calls, numbers split in arrival order", async () => {
    const d = await testDeployment(await mariadb.createDatabase());
    let coalesced = 0;
    const { allocator } = d.instance(
      { url: redis.url },
      {
        step: 10_000,
        events: {
          coalesced: (n) => {
            coalesced += n;
          },
        },
      },
    );
    const chat = groupChat("coalesce");
    await allocator.next(chat, 1); // seeded: what follows is the steady state
    await redis.command("CONFIG", "RESETSTAT");
    const ranges = await Promise.all(Array.from({ length: 64 }, () => allocator.next(chat, 1)));
    const scripts = await scriptCalls();
    // The first call goes alone; everyone arriving while it runs rides on the next one.
    expect(scripts).toBeLessThanOrEqual(4);
    expect(coalesced).toBe(64 - scripts);
    // Called in this order, so numbered in this order.
    expect(ranges.map((r) => r.first)).toEqual(Array.from({ length: 64 }, (_, i) => i + 2));
    await d.close();
  });

  it("BatchNext naming one conversation several times, amid concurrent Next calls: ranges in request order", async () => {
    const d = await testDeployment(await mariadb.createDatabase());
    const [a, b] = [d.instance({ url: redis.url }), d.instance({ url: redis.url })];
    const hot = groupChat("batch-hot");
    const other = groupChat("batch-other");
    const items = [
      { conversation: hot, count: 3 },
      { conversation: other, count: 1 },
      { conversation: hot, count: 5 },
      { conversation: hot, count: 1 },
      { conversation: other, count: 2 },
    ];
    const [batches, singles] = await Promise.all([
      Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? a : b).allocator.nextMany(items))),
      Promise.all(Array.from({ length: 32 }, (_, i) => (i % 2 ? b : a).allocator.next(hot, 7))),
    ]);
    for (const ranges of batches) {
      expect(ranges.map((r) => r.last - r.first + 1)).toEqual([3, 1, 5, 1, 2]);
      // Same conversation: consecutive, in request order.
      expect(ranges[2]!.first).toBe(ranges[0]!.last + 1);
      expect(ranges[3]!.first).toBe(ranges[2]!.last + 1);
      expect(ranges[4]!.first).toBe(ranges[1]!.last + 1);
    }
    const hotRanges = [...batches.flatMap((r) => [r[0]!, r[2]!, r[3]!]), ...singles].sort(
      (x, y) => x.first - y.first,
    );
    for (let i = 1; i < hotRanges.length; i += 1)
      expect(hotRanges[i]!.first).toBeGreaterThan(hotRanges[i - 1]!.last);
    await d.close();
  });
});
