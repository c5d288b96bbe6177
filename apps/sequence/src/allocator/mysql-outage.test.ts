import { type MariaDbServer, type RedisServer, startMariaDb, startRedis } from "@im-core/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testDeployment } from "../testing/backends.js";
import { checkGuarantees, runWorkload } from "../testing/workload.js";
import { groupChat, privateChat } from "./conversation.js";

// Its own MariaDB: this file kills it.
let redis: RedisServer;
let mariadb: MariaDbServer;

beforeAll(async () => {
  [redis, mariadb] = await Promise.all([startRedis(), startMariaDb()]);
});
afterAll(async () => {
  await Promise.all([redis?.dispose(), mariadb?.dispose()]);
});

describe("MySQL outage (16.7)", () => {
  it("16.7: reserved numbers keep flowing, a new block fails UNAVAILABLE, and no number is ever unreserved", async () => {
    const d = await testDeployment(await mariadb.createDatabase());
    const instances = [d.instance({ url: redis.url }), d.instance({ url: redis.url })];
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
            await mariadb.kill();
            await new Promise((resolve) => setTimeout(resolve, 600));
            down.to = performance.now();
            await mariadb.restart();
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
    const d = await testDeployment(await mariadb.createDatabase());
    const { allocator } = d.instance({ url: redis.url });
    const chat = groupChat("needs-a-block");
    await allocator.next(chat, 1);
    await allocator.settle();
    await mariadb.kill();
    try {
      expect(await allocator.next(chat, 10)).toEqual({ first: 2, last: 11 });
      const error = await allocator.next(chat, 10_000).catch((e: unknown) => e);
      expect(error).toMatchObject({
        kind: "unavailable",
        message: expect.stringMatching(/^MySQL unavailable/),
      });
    } finally {
      await mariadb.restart();
    }
    expect((await allocator.next(chat, 10_000)).first).toBeGreaterThan(11);
    await d.close();
  });
});
