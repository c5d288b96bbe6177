import { type MariaDbServer, type RedisServer, startMariaDb, startRedis } from "@im-core/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testDeployment } from "../testing/backends.js";
import { MAX_SEQUENCE } from "./allocator.js";
import { groupChat, privateChat } from "./conversation.js";

let redis: RedisServer;
let mariadb: MariaDbServer;

beforeAll(async () => {
  [redis, mariadb] = await Promise.all([startRedis(), startMariaDb()]);
});
afterAll(async () => {
  await Promise.all([redis?.dispose(), mariadb?.dispose()]);
});

async function deployment() {
  return testDeployment(await mariadb.createDatabase());
}

describe("allocator (16.1, 16.2)", () => {
  it("16.1: a new conversation starts at 1 and counts allocate consecutive numbers", async () => {
    const d = await deployment();
    const { allocator } = d.instance({ url: redis.url });
    const chat = groupChat("g-first");
    expect(await allocator.next(chat, 1)).toEqual({ first: 1, last: 1 });
    expect(await allocator.next(chat, 5)).toEqual({ first: 2, last: 6 });
    expect(await allocator.current(chat)).toBe(6);
    expect(await allocator.current(groupChat("never-used"))).toBe(0);
    await d.close();
  });

  it("16.2: private chats share a counter in either order", async () => {
    const d = await deployment();
    const { allocator } = d.instance({ url: redis.url });
    expect(await allocator.next(privateChat("alice", "bob"), 1)).toEqual({ first: 1, last: 1 });
    expect(await allocator.next(privateChat("bob", "alice"), 1)).toEqual({ first: 2, last: 2 });
    await d.close();
  });

  it("16.7: one MySQL write per SEQUENCE_STEP numbers across two instances; big counts reserve enough", async () => {
    const d = await deployment();
    const instances = [
      d.instance({ url: redis.url }, { step: 100 }),
      d.instance({ url: redis.url }, { step: 100 }),
    ];
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
    const url = await mariadb.createDatabase();
    const d = await testDeployment(url);
    const { allocator } = d.instance({ url: redis.url }, { step: 100 });
    const chat = groupChat("g-limit");
    const database = new URL(url).pathname.slice(1);
    await mariadb.query(
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
