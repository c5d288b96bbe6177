import { describe, expect, it } from "vitest";
import { groupChat, privateChat } from "../allocator/conversation.js";
import { privateBackends, testDeployment } from "../testing/backends.js";
import { checkGuarantees, newConversations as fresh, runWorkload } from "../testing/workload.js";

// Its own MariaDB: this file kills and pauses it.
const servers = privateBackends();

describe("MySQL outage", () => {
  it("reserved numbers keep flowing, a new block fails UNAVAILABLE, and no number is ever unreserved", async () => {
    const d = await testDeployment(await servers.mariadb.createDatabase());
    const instances = await Promise.all([
      d.instance({ url: servers.redis.url }),
      d.instance({ url: servers.redis.url }),
    ]);
    const conversations = [groupChat("outage"), privateChat("x", "y")];
    let down = { from: Number.POSITIVE_INFINITY, to: Number.POSITIVE_INFINITY };
    const counts = Array.from({ length: 40 }, (_, i) => 1 + ((i * 7) % 13));
    const { calls, refused } = await runWorkload({
      instances: instances.map((i) => i.allocator),
      conversations,
      callers: 6,
      counts,
      faults: [
        {
          after: 60,
          inject: async () => {
            // Blocks reserved ahead are what keeps numbers flowing; on a loaded machine the background
            // reservation may still be on its way, so let it land before MySQL goes.
            await Promise.all(instances.map((i) => i.allocator.settle()));
            down = { from: performance.now(), to: Number.POSITIVE_INFINITY };
            await servers.mariadb.kill();
            await new Promise((resolve) => setTimeout(resolve, 600));
            down.to = performance.now();
            await servers.mariadb.restart();
          },
        },
      ],
    });
    checkGuarantees(calls);
    for (const call of calls) {
      expect(call.last).toBeLessThanOrEqual(d.log.ceilingAt(call.conversation.id, call.endedAt));
    }
    expect(calls.filter((c) => c.startedAt > down.from && c.endedAt < down.to).length).toBeGreaterThan(0);
    expect(refused).toBeGreaterThan(0);
    expect(calls.length).toBe(6 * counts.length);
    await d.close();
  });

  it("a request needing a new block while MySQL is down says so", async () => {
    const d = await testDeployment(await servers.mariadb.createDatabase());
    const { allocator } = await d.instance({ url: servers.redis.url });
    const chat = groupChat("needs-a-block");
    await allocator.next(chat, 1);
    await allocator.settle();
    await servers.mariadb.kill();
    try {
      expect(await allocator.next(chat, 10)).toEqual({ first: 2, last: 11 });
      const error = await allocator.next(chat, 10_000).catch((e: unknown) => e);
      expect(error).toMatchObject({
        kind: "unavailable",
        message: expect.stringMatching(/^MySQL unavailable/),
      });
    } finally {
      await servers.mariadb.restart();
    }
    expect((await allocator.next(chat, 10_000)).first).toBeGreaterThan(11);
    await d.close();
  });

  it("with MySQL stopped, BatchNext of 1,000 new conversations fails UNAVAILABLE quickly", async () => {
    const d = await testDeployment(await servers.mariadb.createDatabase());
    const { allocator, backup } = await d.instance({ url: servers.redis.url });
    await allocator.next(groupChat("warm-stopped"), 1); // the epoch is known, connections are pooled
    await servers.mariadb.kill();
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
      await servers.mariadb.restart();
    }
    expect(await allocator.next(groupChat("after-stopped"), 1)).toEqual({ first: 1, last: 1 });
    await d.close();
  });

  it("with MySQL hung, callers waiting for a connection give up at their deadline", async () => {
    const d = await testDeployment(await servers.mariadb.createDatabase());
    const { allocator, backup } = await d.instance({ url: servers.redis.url });
    await allocator.next(groupChat("warm-hung"), 1);
    servers.mariadb.pause();
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
      servers.mariadb.resume();
    }
    await allocator.settle();
    await expect.poll(() => backup.lockSlots.inUse, { timeout: 5_000 }).toBe(0);
    expect(await allocator.next(groupChat("after-hung"), 1)).toEqual({ first: 1, last: 1 });
    await d.close();
  });
});
