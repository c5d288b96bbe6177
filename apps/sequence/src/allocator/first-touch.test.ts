import { RateLimiter } from "@im-core/service-kit";
import { startRedis } from "@im-core/testkit";
import { describe, expect, it } from "vitest";
import { privateBackends, testDeployment } from "../testing/backends.js";
import { newConversations as fresh } from "../testing/workload.js";
import type { FirstTouchGate } from "./allocator.js";

const servers = privateBackends();

describe("first touch of many new conversations (each needs a MySQL reservation)", () => {
  it("BatchNext of 1,000 new conversations succeeds, every range starting at 1", async () => {
    const d = await testDeployment(await servers.mariadb.createDatabase());
    const { allocator, backup } = await d.instance({ url: servers.redis.url });
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
    const d = await testDeployment(await servers.mariadb.createDatabase());
    const instances = await Promise.all([
      d.instance({ url: servers.redis.url }),
      d.instance({ url: servers.redis.url }),
    ]);
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
});

describe("first touches past a caller's gate", () => {
  /** A per-token limit as the handlers build it, for one token; counts refusals. */
  const limited = (burst: number) => {
    const limiter = new RateLimiter(0.001, burst); // no refill within a test
    const gate = {
      refused: 0,
      admit() {
        if (limiter.wait("t") === 0) return undefined;
        gate.refused += 1;
        return new Error("over the limit");
      },
      charge: () => limiter.charge("t"),
    } satisfies FirstTouchGate & { refused: number };
    return gate;
  };

  it("are refused before MySQL; conversations already started and other callers are still served", async () => {
    const d = await testDeployment(await servers.mariadb.createDatabase());
    const { allocator, backup } = await d.instance({ url: servers.redis.url });
    const gate = limited(10);
    const conversations = fresh("gated", 30);
    const results = await Promise.allSettled(
      conversations.map((conversation) => allocator.next(conversation, 1, { firstTouch: gate })),
    );
    const served = conversations.filter((_, i) => results[i]!.status === "fulfilled");
    // A seed is charged once it has created its conversation, so those admitted while others were
    // still in MySQL may overshoot the burst, by at most the seeds MySQL runs at once.
    const seedsAtOnce = Math.floor(backup.lockSlots.limit / 2);
    expect(served.length).toBeGreaterThanOrEqual(10);
    expect(served.length).toBeLessThanOrEqual(10 + seedsAtOnce - 1);
    expect(gate.refused).toBe(30 - served.length);
    // Only the admitted conversations reached MySQL.
    expect(new Set(d.log.entries.map((entry) => entry.id))).toEqual(new Set(served.map((c) => c.id)));
    // Started conversations go on without asking the gate; a caller without a gate is not limited.
    expect(await allocator.next(served[0]!, 1, { firstTouch: gate })).toEqual({ first: 2, last: 2 });
    const refusedOne = conversations.find((_, i) => results[i]!.status === "rejected")!;
    expect(await allocator.next(refusedOne, 1)).toEqual({ first: 1, last: 1 });
    expect(gate.refused).toBe(30 - served.length);
    await d.close();
  });

  it("re-seeding counters that Redis lost costs no admissions: only conversations MySQL never saw count", async () => {
    const d = await testDeployment(await servers.mariadb.createDatabase());
    const { allocator } = await d.instance({ url: servers.redis.url });
    const conversations = fresh("reseed", 20);
    await allocator.nextMany(conversations.map((conversation) => ({ conversation, count: 1 })));
    await servers.redis.flushAll();
    const gate = limited(1);
    const again = await Promise.all(
      conversations.map((conversation) => allocator.next(conversation, 1, { firstTouch: gate })),
    );
    // Every counter was re-seeded above its reserved ceiling, none refused, and the one admission is left.
    for (const range of again) expect(range.first).toBeGreaterThan(1);
    expect(gate.refused).toBe(0);
    expect(await allocator.next(fresh("reseed-new", 1)[0]!, 1, { firstTouch: gate })).toEqual({
      first: 1,
      last: 1,
    });
    await d.close();
  });

  it("re-seeds after the Redis server changed are never refused, even for a token over its limit", async () => {
    const d = await testDeployment(await servers.mariadb.createDatabase());
    const { allocator } = await d.instance({ url: servers.redis.url });
    const conversations = fresh("known", 10);
    await allocator.nextMany(conversations.map((conversation) => ({ conversation, count: 1 })));
    // A first replica gives the server a new replication id: the counters stay, from an older epoch.
    const replica = await startRedis();
    try {
      await replica.replicaOf(servers.redis);
      const closed = limited(0); // refuses every new conversation
      const again = await Promise.all(
        conversations.map((conversation) => allocator.next(conversation, 1, { firstTouch: closed })),
      );
      for (const range of again) expect(range.first).toBeGreaterThan(1);
      expect(closed.refused).toBe(0);
      await expect(allocator.next(fresh("known-new", 1)[0]!, 1, { firstTouch: closed })).rejects.toThrow(
        "over the limit",
      );
    } finally {
      await replica.dispose();
      await d.close();
    }
  });
});
