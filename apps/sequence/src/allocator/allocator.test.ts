import { test } from "@fast-check/vitest";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { privateBackends, testDeployment } from "../testing/backends.js";
import { type Call, checkGuarantees } from "../testing/workload.js";
import { MAX_SEQUENCE, type SequenceAllocator } from "./allocator.js";
import { type ConversationRef, groupChat, privateChat } from "./conversation.js";

const servers = privateBackends();
let run = 0;

async function deployment() {
  return testDeployment(await servers.mariadb.createDatabase());
}

describe("allocator", () => {
  it("a new conversation starts at 1 and counts allocate consecutive numbers", async () => {
    const d = await deployment();
    const { allocator } = await d.instance({ url: servers.redis.url });
    const chat = groupChat("g-first");
    expect(await allocator.next(chat, 1)).toEqual({ first: 1, last: 1 });
    expect(await allocator.next(chat, 5)).toEqual({ first: 2, last: 6 });
    expect(await allocator.current(chat)).toBe(6);
    expect(await allocator.current(groupChat("never-used"))).toBe(0);
    await d.close();
  });

  it("private chats share a counter in either order", async () => {
    const d = await deployment();
    const { allocator } = await d.instance({ url: servers.redis.url });
    expect(await allocator.next(privateChat("alice", "bob"), 1)).toEqual({ first: 1, last: 1 });
    expect(await allocator.next(privateChat("bob", "alice"), 1)).toEqual({ first: 2, last: 2 });
    await d.close();
  });

  it("one MySQL write per SEQUENCE_STEP numbers across two instances; big counts reserve enough", async () => {
    const d = await deployment();
    const instances = await Promise.all([
      await d.instance({ url: servers.redis.url }, { step: 100 }),
      await d.instance({ url: servers.redis.url }, { step: 100 }),
    ]);
    const chat = groupChat("g-writes");
    // 8 concurrent callers, 2,000 numbers in all, half through each instance.
    await Promise.all(
      Array.from({ length: 8 }, async (_, caller) => {
        for (let i = 0; i < 250; i += 1) await instances[(caller + i) % 2]!.allocator.next(chat, 1);
      }),
    );
    await Promise.all(instances.map((i) => i.allocator.settle()));
    const writes = d.log.entries.length;
    console.info(
      `MySQL writes: ${writes} for 2000 numbers at step 100 (${(writes / 20).toFixed(2)} per step)`,
    );
    // 20 blocks used, the next one reserved ahead while the last is in use.
    expect(writes).toBeGreaterThanOrEqual(20);
    expect(writes).toBeLessThanOrEqual(22);
    const big = await instances[0]!.allocator.next(chat, 10_000);
    expect(big.last - big.first).toBe(9_999);
    await d.close();
  });

  it("numbers stop below 2^53 with an exhausted error, after using every number up to 2^53 - 1", async () => {
    const url = await servers.mariadb.createDatabase();
    const d = await testDeployment(url);
    const { allocator } = await d.instance({ url: servers.redis.url }, { step: 100 });
    const chat = groupChat("g-limit");
    const database = new URL(url).pathname.slice(1);
    await servers.mariadb.query(
      `INSERT INTO sequence_ceilings (id, type, part_a, ceiling) VALUES ('${chat.id}', 'group', 'g-limit', ${MAX_SEQUENCE - 150})`,
      database,
    );
    expect(await allocator.next(chat, 100)).toEqual({ first: MAX_SEQUENCE - 149, last: MAX_SEQUENCE - 50 });
    await allocator.settle();
    expect(await allocator.next(chat, 100).catch((e) => e)).toMatchObject({ kind: "exhausted" });
    expect(await allocator.next(chat, 50)).toEqual({ first: MAX_SEQUENCE - 49, last: MAX_SEQUENCE });
    expect(await allocator.next(chat, 1).catch((e) => e)).toMatchObject({ kind: "exhausted" });
    await d.close();
  });
});

/** Script calls Redis ran since the last reset (EVALSHA, plus EVAL when the script was not cached). */
async function scriptCalls(): Promise<number> {
  const stats = (await servers.redis.command("INFO", "commandstats")) ?? "";
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

describe("one hot conversation", () => {
  test.prop(
    [
      fc.array(fc.array(fc.integer({ min: 1, max: 10_000 }), { minLength: 1, maxLength: 3 }), {
        minLength: 2,
        maxLength: 64,
      }),
    ],
    { numRuns: 6, endOnFailure: true },
  )(
    "up to 64 concurrent callers with counts up to 10,000 on one conversation, two instances, step 100: every call succeeds at once",
    async (counts) => {
      run += 1;
      const d = await testDeployment(await servers.mariadb.createDatabase());
      const instances = await Promise.all([
        d.instance({ url: servers.redis.url }),
        d.instance({ url: servers.redis.url }),
      ]);
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
    const d = await testDeployment(await servers.mariadb.createDatabase());
    let coalesced = 0;
    const { allocator } = await d.instance(
      { url: servers.redis.url },
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
    await servers.redis.command("CONFIG", "RESETSTAT");
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
    const d = await testDeployment(await servers.mariadb.createDatabase());
    const [a, b] = await Promise.all([
      d.instance({ url: servers.redis.url }),
      d.instance({ url: servers.redis.url }),
    ]);
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
