import { type RedisServer, startRedis } from "@im-core/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRedisClient } from "./connect.js";
import { RedisSequenceStore, type Ticket } from "./sequence-store.js";

let server: RedisServer;
let store: RedisSequenceStore;
let ticket: (epoch: number) => Promise<Ticket>;

beforeAll(async () => {
  server = await startRedis();
  store = new RedisSequenceStore(createRedisClient(server.url));
  ticket = async (epoch) => {
    const { generation, fence } = await store.connection();
    return { generation, epoch, fence };
  };
});
afterAll(async () => {
  await store?.close();
  await server?.dispose();
});

describe("sequence.lua", () => {
  it("never creates a counter by itself: a missing key asks to be seeded", async () => {
    expect(await store.next(await ticket(1), "seq:{t1}", 1, 10)).toEqual({ status: "seed", known: false });
    expect(await server.command("EXISTS", "seq:{t1}")).toBe("0");
  });

  it("hands out consecutive numbers up to the reserved ceiling, then asks for more", async () => {
    const t = await ticket(1);
    expect(await store.seed(t, "seq:{t2}", 0, 10)).toEqual({ status: "ok" });
    expect(await store.next(t, "seq:{t2}", 4, 3)).toEqual({
      status: "ok",
      first: 1,
      last: 4,
      prefetch: false,
    });
    expect(await store.next(t, "seq:{t2}", 4, 3)).toEqual({
      status: "ok",
      first: 5,
      last: 8,
      prefetch: true,
    });
    expect(await store.next(t, "seq:{t2}", 3, 3)).toEqual({ status: "reserve", cur: 8, max: 10 });
    expect(await store.extend(t, "seq:{t2}", 20)).toEqual({ status: "ok" });
    expect(await store.extend(t, "seq:{t2}", 15)).toEqual({ status: "ok" });
    expect(await store.peek(t, "seq:{t2}")).toEqual({ cur: 8, max: 20, epoch: 1 });
  });

  it("a key of an older epoch counts as missing; a newer one says the caller is behind", async () => {
    const old = await ticket(1);
    await store.seed(old, "seq:{t3}", 100, 200);
    expect(await store.seed(old, "seq:{t3}", 0, 5)).toEqual({ status: "noop" });
    const next = await ticket(2);
    expect(await store.next(next, "seq:{t3}", 1, 0)).toEqual({ status: "seed", known: true });
    expect(await store.extend(next, "seq:{t3}", 900)).toEqual({ status: "noop" });
    expect(await store.seed(next, "seq:{t3}", 300, 400)).toEqual({ status: "ok" });
    expect(await store.next(old, "seq:{t3}", 1, 0)).toEqual({ status: "behind", epoch: 2 });
    expect(await store.next(next, "seq:{t3}", 1, 0)).toMatchObject({ first: 301 });
  });

  it("grant applies a reservation and allocates in one step: extends a live key, seeds a missing or stale one", async () => {
    const t = await ticket(1);
    // Missing: seeded at the old ceiling, then the caller's numbers at once.
    expect(await store.grant(t, "seq:{t5}", 40, 140, 100)).toEqual({
      status: "ok",
      first: 41,
      last: 140,
      seeded: true,
    });
    // Live: the ceiling only rises, the counter carries on.
    expect(await store.grant(t, "seq:{t5}", 140, 130, 1)).toEqual({ status: "reserve", cur: 140, max: 140 });
    expect(await store.grant(t, "seq:{t5}", 140, 240, 5)).toEqual({
      status: "ok",
      first: 141,
      last: 145,
      seeded: false,
    });
    expect(await store.peek(t, "seq:{t5}")).toEqual({ cur: 145, max: 240, epoch: 1 });
    // Stale (older epoch): seeded again from the value read in MySQL, never from the stale counter.
    const t2 = await ticket(2);
    expect(await store.grant(t2, "seq:{t5}", 240, 340, 1)).toMatchObject({ first: 241, seeded: true });
    expect(await store.grant(t, "seq:{t5}", 0, 999, 1)).toEqual({ status: "behind", epoch: 2 });
  });

  it("never sends a ticket from before a reconnect (the caller goes round), and fails fast while Redis is down", async () => {
    const stale = await ticket(1);
    await server.command("CLIENT", "KILL", "TYPE", "normal");
    await expect
      .poll(async () => (await store.connection().catch(() => undefined))?.generation ?? 0)
      .toBeGreaterThan(stale.generation);
    // Answered as a changed server (refresh the epoch, go round), never run on the new connection.
    expect(await store.next(stale, "seq:{t4}", 1, 0)).toEqual({ status: "behind", epoch: 0 });
    expect(await server.command("EXISTS", "seq:{t4}")).toBe("0");
    const { identity } = await store.connection();
    await server.stop();
    const started = performance.now();
    await expect(store.connection()).rejects.toMatchObject({ kind: "unavailable" });
    expect(performance.now() - started).toBeLessThan(1_500);
    await server.restart();
    // A restarted server is a different server (its data may be anything): a new identity.
    await expect
      .poll(async () => (await store.connection().catch(() => undefined))?.identity)
      .not.toBe(undefined);
    expect((await store.connection()).identity).not.toBe(identity);
  });

  it("answers behind (epoch 0) without touching the key when the server's replication id is not the ticket's", async () => {
    const t = await ticket(1);
    await store.grant(t, "seq:{t6}", 0, 100, 5);
    const replica = await startRedis();
    try {
      // A master's replication id changes when its first replica attaches: the same connection, the
      // same data, but no longer provably the lineage the ticket's epoch was taken for.
      await replica.replicaOf(server);
      expect(await store.next(t, "seq:{t6}", 1, 0)).toEqual({ status: "behind", epoch: 0 });
      expect(await server.command("HGET", "seq:{t6}", "cur")).toBe("5");
      // From then on the old ticket never reaches the server: the caller is sent round again.
      expect(await store.peek(t, "seq:{t6}")).toEqual({ status: "behind", epoch: 0 });
      // The connection's identity is read again, with the new replication id in its fence.
      const fresh = await store.connection();
      expect(fresh.fence).not.toBe(t.fence);
      expect(fresh.identity).toContain(fresh.fence);
      expect(
        await store.next({ ...t, generation: fresh.generation, fence: fresh.fence }, "seq:{t6}", 1, 0),
      ).toMatchObject({ status: "ok", first: 6 });
    } finally {
      await replica.dispose();
    }
  });
});

describe("Redis identities the fence relies on", () => {
  it("a restart with every key kept still gives the server a new replication id", async () => {
    const persistent = await startRedis({ persistence: true });
    const replIdOf = async () =>
      /master_replid:(\w+)/.exec((await persistent.command("INFO", "replication")) ?? "")?.[1];
    try {
      await persistent.command("SET", "kept", "1");
      const before = await replIdOf();
      await persistent.restart();
      expect(await persistent.command("GET", "kept")).toBe("1");
      expect(await replIdOf()).not.toBe(before);
    } finally {
      await persistent.dispose();
    }
  });
});
