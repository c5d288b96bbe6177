import { describe, expect, it } from "vitest";
import { privateBackends, testDeployment } from "../testing/backends.js";
import { newConversations as fresh } from "../testing/workload.js";

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
