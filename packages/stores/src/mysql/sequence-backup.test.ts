import { type MariaDbServer, startMariaDb } from "@im-core/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrateDatabase } from "./migrate.js";
import { createMySqlPool } from "./pool.js";
import { type BackupConversation, EpochFencedError, MySqlSequenceBackup } from "./sequence-backup.js";

let mariadb: MariaDbServer;

beforeAll(async () => {
  mariadb = await startMariaDb();
});
afterAll(async () => {
  await mariadb?.dispose();
});

async function backup() {
  const pool = createMySqlPool(await mariadb.createDatabase());
  await migrateDatabase(pool);
  await migrateDatabase(pool); // idempotent
  return { pool, backup: new MySqlSequenceBackup(pool) };
}

const conv = (n: number): BackupConversation => ({
  id: n.toString(16).padStart(64, "0"),
  type: "group",
  partA: `g${n}`,
  partB: null,
});

describe("MySQL sequence backup", () => {
  it("a new Redis identity bumps the epoch exactly once, however many instances notice", async () => {
    const { pool, backup: b } = await backup();
    expect(await b.epochFor("run-a")).toBe(1);
    const others = Array.from({ length: 5 }, () => new MySqlSequenceBackup(pool));
    expect(await Promise.all(others.map((o) => o.epochFor("run-b")))).toEqual([2, 2, 2, 2, 2]);
    expect(await b.epochFor("run-b")).toBe(2);
    await pool.end();
  });

  it("ceilings never move backwards and reservations of an old epoch are fenced", async () => {
    const { pool, backup: b } = await backup();
    const epoch = await b.epochFor("run-a");
    const c = conv(1);
    expect(await b.locked(c.id, (reserve) => reserve(c, epoch, (prev) => prev + 100))).toEqual({
      previous: 0,
      ceiling: 100,
    });
    expect(await b.locked(c.id, (reserve) => reserve(c, epoch, () => 50))).toEqual({
      previous: 100,
      ceiling: 100,
    });
    await b.epochFor("run-b");
    const fenced = await b
      .locked(c.id, (reserve) => reserve(c, epoch, (p) => p + 1))
      .catch((e: unknown) => e);
    expect(fenced).toBeInstanceOf(EpochFencedError);
    expect(await b.ceiling(c.id)).toBe(100);
    await pool.end();
  });

  it("reservations that create counters hold at most half the slots; the others always find one", async () => {
    const { pool } = await backup();
    const limited = new MySqlSequenceBackup(pool, { maxLocks: 4 });
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let seedsInside = 0;
    const seeds = Array.from({ length: 10 }, (_, i) =>
      limited.locked(
        // Distinct from the first characters on: the lock name keeps only the id's head.
        `${i}`.padEnd(64, "f"),
        async () => {
          seedsInside += 1;
          await held;
        },
        { seed: true },
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(seedsInside).toBe(2);
    // A reservation for a live counter gets a slot at once, however many seeds wait.
    const started = performance.now();
    await limited.locked("live".padEnd(64, "0"), async () => {});
    expect(performance.now() - started).toBeLessThan(1_000);
    release();
    await Promise.all(seeds);
    expect(seedsInside).toBe(10);
    await pool.end();
  });

  it("reservations of one conversation are serialised across instances, lock held through apply", async () => {
    const { pool, backup: b } = await backup();
    const epoch = await b.epochFor("run-a");
    const c = conv(2);
    const inside: number[] = [];
    let concurrent = 0;
    await Promise.all(
      Array.from({ length: 6 }, () =>
        new MySqlSequenceBackup(pool).locked(c.id, async (reserve) => {
          concurrent += 1;
          inside.push(concurrent);
          await reserve(c, epoch, (prev) => prev + 10);
          await new Promise((resolve) => setTimeout(resolve, 10));
          concurrent -= 1;
        }),
      ),
    );
    expect(Math.max(...inside)).toBe(1);
    expect(await b.ceiling(c.id)).toBe(60);
    await pool.end();
  });

  it("pages in id order, filtered by type", async () => {
    const { pool, backup: b } = await backup();
    const epoch = await b.epochFor("run-a");
    for (let n = 1; n <= 5; n += 1) {
      const c = n % 2 ? conv(n) : { ...conv(n), type: "private" as const, partA: "a", partB: "b" };
      await b.locked(c.id, (reserve) => reserve(c, epoch, () => n));
    }
    const first = await b.page({ limit: 3 });
    expect(first.map((r) => r.ceiling)).toEqual([1, 2, 3]);
    expect((await b.page({ limit: 3, afterId: first[2]!.id })).map((r) => r.ceiling)).toEqual([4, 5]);
    expect((await b.page({ type: "private", limit: 10 })).map((r) => r.partB)).toEqual(["b", "b"]);
    await pool.end();
  });
});
