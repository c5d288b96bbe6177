import { type MariaDbServer, type RedisServer, startMariaDb, startRedis } from "@im-core/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testDeployment } from "../testing/backends.js";
import { groupChat, privateChat } from "./conversation.js";

// Its own MariaDB: the last tests kill and pause it.
let redis: RedisServer;
let mariadb: MariaDbServer;

beforeAll(async () => {
  [redis, mariadb] = await Promise.all([startRedis(), startMariaDb()]);
});
afterAll(async () => {
  await Promise.all([redis?.dispose(), mariadb?.dispose()]);
});

const fresh = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) =>
    i % 2 === 0 ? groupChat(`${prefix}-${i}`) : privateChat(`${prefix}-a${i}`, `${prefix}-b${i}`),
  );

describe("first touch of many new conversations (each needs a MySQL reservation)", () => {
  it("BatchNext of 1,000 new conversations succeeds, every range starting at 1", async () => {
    const d = await testDeployment(await mariadb.createDatabase());
    const { allocator, backup } = d.instance({ url: redis.url });
    const conversations = fresh("batch", 1_000);
    const started = performance.now();
    const ranges = await allocator.nextMany(
      conversations.map((conversation) => ({ conversation, count: 3 })),
    );
    const seconds = (performance.now() - started) / 1_000;
    console.log(`first touch, BatchNext of 1,000: ${Math.round(1_000 / seconds)} conversations/s`);
    expect(ranges).toEqual(conversations.map(() => ({ first: 1, last: 3 })));
    expect(backup.lockSlots).toMatchObject({ limit: 8, waiting: 0 });
    expect(d.log.entries.length).toBe(1_000);
    await d.close();
  });

  it("200 concurrent first-touch Next calls on distinct conversations across two instances all succeed", async () => {
    const d = await testDeployment(await mariadb.createDatabase());
    const instances = [d.instance({ url: redis.url }), d.instance({ url: redis.url })];
    const conversations = fresh("next", 200);
    const started = performance.now();
    const ranges = await Promise.all(
      conversations.map((c, i) => instances[i % 2]!.allocator.next(c, 1 + (i % 5))),
    );
    const seconds = (performance.now() - started) / 1_000;
    console.log(
      `first touch, 200 concurrent Next on 2 instances: ${Math.round(200 / seconds)} conversations/s`,
    );
    expect(ranges).toEqual(conversations.map((_, i) => ({ first: 1, last: 1 + (i % 5) })));
    // And they count on from there, on either instance.
    const again = await Promise.all(
      conversations.map((c, i) => instances[(i + 1) % 2]!.allocator.next(c, 1)),
    );
    expect(again).toEqual(conversations.map((_, i) => ({ first: 2 + (i % 5), last: 2 + (i % 5) })));
    await d.close();
  });

  it("with MySQL stopped, BatchNext of 1,000 new conversations fails UNAVAILABLE quickly", async () => {
    const d = await testDeployment(await mariadb.createDatabase());
    const { allocator, backup } = d.instance({ url: redis.url });
    await allocator.next(groupChat("warm-stopped"), 1); // the epoch is known, connections are pooled
    await mariadb.kill();
    try {
      const started = performance.now();
      const error = await allocator
        .nextMany(fresh("down", 1_000).map((conversation) => ({ conversation, count: 1 })))
        .catch((e: unknown) => e);
      expect(error).toMatchObject({
        kind: "unavailable",
        message: expect.stringMatching(/^MySQL unavailable/),
      });
      expect(performance.now() - started).toBeLessThan(3_000);
      // Nobody is left waiting behind the slots.
      await expect.poll(() => backup.lockSlots.waiting).toBe(0);
    } finally {
      await mariadb.restart();
    }
    expect(await allocator.next(groupChat("after-stopped"), 1)).toEqual({ first: 1, last: 1 });
    await d.close();
  });

  it("with MySQL hung, callers waiting for a connection give up at their deadline", async () => {
    const d = await testDeployment(await mariadb.createDatabase());
    const { allocator, backup } = d.instance({ url: redis.url });
    await allocator.next(groupChat("warm-hung"), 1);
    mariadb.pause();
    try {
      const started = performance.now();
      const signal = AbortSignal.timeout(300);
      const outcomes = await Promise.allSettled([
        ...fresh("hung", 100).map((c) => allocator.next(c, 1, { signal })),
        allocator.nextMany(
          fresh("hung-batch", 1_000).map((conversation) => ({ conversation, count: 1 })),
          {
            signal,
          },
        ),
      ]);
      const elapsed = performance.now() - started;
      expect(outcomes.every((o) => o.status === "rejected")).toBe(true);
      for (const o of outcomes)
        expect((o as PromiseRejectedResult).reason).toMatchObject({ name: "TimeoutError" });
      // Well before the 2 s each of the 8 slot holders spends on the hung server.
      expect(elapsed).toBeLessThan(1_500);
      expect(backup.lockSlots.waiting).toBe(0);
    } finally {
      mariadb.resume();
    }
    await allocator.settle();
    await expect.poll(() => backup.lockSlots.inUse, { timeout: 5_000 }).toBe(0);
    expect(await allocator.next(groupChat("after-hung"), 1)).toEqual({ first: 1, last: 1 });
    await d.close();
  });
});
