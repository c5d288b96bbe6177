import { type MariaDbServer, startMariaDb } from "@im-core/testkit";
import { createConnection } from "mysql2/promise";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BackupConversation, EpochFencedError } from "./ceilings.js";
import { migrateDatabase } from "./migrate.js";
import { createMySqlPool } from "./pool.js";
import type { SeedBatchStepHook } from "./seed-batches.js";
import { MySqlSequenceBackup, type SequenceBackupOptions } from "./sequence-backup.js";

let mariadb: MariaDbServer;

beforeAll(async () => {
  mariadb = await startMariaDb();
});
afterAll(async () => {
  await mariadb?.dispose();
});

async function backup(opts: SequenceBackupOptions = {}) {
  const url = await mariadb.createDatabase();
  const pool = createMySqlPool(url);
  await migrateDatabase(pool);
  const b = new MySqlSequenceBackup(pool, opts);
  return { url, pool, backup: b, epoch: await b.epochFor("run-a") };
}

const conv = (n: number): BackupConversation => ({
  // Distinct from the first characters on: a lock name keeps only the id's head.
  id: `${n}:`.padEnd(64, "0"),
  type: "private",
  partA: `alice${n}`,
  partB: `bob${n}`,
});

/** Records the steps batches reach. */
function stepLog(fault?: SeedBatchStepHook) {
  const steps: { step: string; ids: readonly string[] }[] = [];
  const onStep: SeedBatchStepHook = async (step, batch) => {
    steps.push({ step, ids: batch.ids });
    await fault?.(step, batch);
  };
  return { steps, onStep };
}

describe("batches of seeds", () => {
  it("concurrent seeds share one lock statement and one transaction, each under its own lock", async () => {
    const log = stepLog();
    const { pool, backup: b, epoch } = await backup({ seedBatch: { onStep: log.onStep } });
    const conversations = Array.from({ length: 50 }, (_, i) => conv(i + 1));
    const reservations = await Promise.all(
      conversations.map((c) => b.lockedSeed(c, (reserve) => reserve(c, epoch, (previous) => previous + 10))),
    );
    expect(reservations).toEqual(conversations.map(() => ({ previous: 0, ceiling: 10 })));
    expect(log.steps.map((s) => s.step)).toEqual(["locked", "reserving", "committed"]);
    expect(log.steps[0]!.ids).toHaveLength(50);
    for (const c of conversations) expect(await b.ceiling(c.id)).toBe(10);
    expect(b.lockSlots).toMatchObject({ inUse: 0, waiting: 0 });
    await pool.end();
  });

  it("keeps to its row bound: 25 seeds with 10 rows a batch make 3 transactions", async () => {
    const log = stepLog();
    const {
      pool,
      backup: b,
      epoch,
    } = await backup({
      maxLocks: 2, // one seed slot: one batch at a time
      seedBatch: { rows: 10, onStep: log.onStep },
    });
    const conversations = Array.from({ length: 25 }, (_, i) => conv(100 + i));
    await Promise.all(conversations.map((c) => b.lockedSeed(c, (reserve) => reserve(c, epoch, () => 5))));
    const sizes = log.steps.filter((s) => s.step === "reserving").map((s) => s.ids.length);
    expect(sizes).toEqual([10, 10, 5]);
    await pool.end();
  });

  it("a seed whose lock another connection holds waits for it alone; the rest of its batch goes on", async () => {
    const { url, pool, backup: b, epoch } = await backup();
    const other = await createConnection(url);
    const [busy, free1, free2] = [conv(201), conv(202), conv(203)];
    await other.query("SELECT GET_LOCK(?, 10)", [`im-seq/${busy.id}`.slice(0, 64)]);
    let busyDone = false;
    const waiting = b
      .lockedSeed(busy, (reserve) => reserve(busy, epoch, () => 7))
      .finally(() => {
        busyDone = true;
      });
    const free = await Promise.all(
      [free1, free2].map((c) => b.lockedSeed(c, (reserve) => reserve(c, epoch, () => 7))),
    );
    expect(free).toEqual([
      { previous: 0, ceiling: 7 },
      { previous: 0, ceiling: 7 },
    ]);
    expect(busyDone).toBe(false);
    await other.query("SELECT RELEASE_LOCK(?)", [`im-seq/${busy.id}`.slice(0, 64)]);
    expect(await waiting).toEqual({ previous: 0, ceiling: 7 });
    await other.end();
    await pool.end();
  });

  it.each(["reserving", "committed"] as const)(
    "a transaction failing at %s fails every seed of its batch: none gets a reservation",
    async (at) => {
      const log = stepLog(async (step) => {
        if (step === at) throw new Error("injected");
      });
      const { pool, backup: b, epoch } = await backup({ seedBatch: { onStep: log.onStep } });
      const conversations = [conv(301), conv(302), conv(303)];
      const outcomes = await Promise.allSettled(
        conversations.map((c) => b.lockedSeed(c, (reserve) => reserve(c, epoch, () => 9))),
      );
      for (const o of outcomes) {
        expect(o).toMatchObject({ status: "rejected", reason: { kind: "unavailable" } });
      }
      // Failing before COMMIT writes nothing; after it, only ceilings nobody was told about (gaps).
      const ceilings = await Promise.all(conversations.map((c) => b.ceiling(c.id)));
      expect(ceilings).toEqual(conversations.map(() => (at === "reserving" ? 0 : 9)));
      // The locks went with the dropped connection: the conversations can be reserved again.
      const again = await Promise.all(
        conversations.map((c) => b.locked(c.id, (reserve) => reserve(c, epoch, (p) => p + 1))),
      );
      expect(again.map((r) => r.ceiling)).toEqual(ceilings.map((c) => Math.max(c, 0) + 1));
      await pool.end();
    },
  );

  it("a batch mixing epochs commits the seeds of the current epoch; an older epoch's seed is fenced and writes nothing", async () => {
    const log = stepLog();
    const { pool, backup: b, epoch } = await backup({ seedBatch: { onStep: log.onStep } });
    const [older, current] = [conv(501), conv(502)];
    const outcomes = await Promise.allSettled([
      b.lockedSeed(older, (reserve) => reserve(older, epoch - 1, (p) => p + 4)),
      b.lockedSeed(current, (reserve) => reserve(current, epoch, (p) => p + 4)),
    ]);
    expect((outcomes[0] as PromiseRejectedResult).reason).toBeInstanceOf(EpochFencedError);
    expect(outcomes[1]).toEqual({ status: "fulfilled", value: { previous: 0, ceiling: 4 } });
    expect(await Promise.all([older, current].map((c) => b.ceiling(c.id)))).toEqual([0, 4]);
    expect(log.steps.filter((s) => s.step === "reserving")).toHaveLength(1);
    await pool.end();
  });

  it("a batch behind an epoch bump is fenced whole: what it wrote is a gap nobody is given", async () => {
    const { pool, backup: b, epoch } = await backup();
    const bumped = await b.epochFor("run-b");
    const [c1, c2] = [conv(511), conv(512)];
    const outcomes = await Promise.allSettled(
      [c1, c2].map((c) => b.lockedSeed(c, (reserve) => reserve(c, epoch, (p) => p + 4))),
    );
    for (const o of outcomes) {
      expect((o as PromiseRejectedResult).reason).toMatchObject({ expected: epoch, current: bumped });
    }
    // Going round in the new epoch continues above the gap.
    const again = await b.lockedSeed(c1, (reserve) => reserve(c1, bumped, (p) => p + 4));
    expect(again).toEqual({ previous: 4, ceiling: 8 });
    await pool.end();
  });

  it("a second reservation of a seed under the same lock starts from the ceiling its first one committed", async () => {
    const { pool, backup: b, epoch } = await backup();
    const c = conv(601);
    const both = await b.lockedSeed(c, async (reserve) => [
      await reserve(c, epoch, (p) => p + 5),
      await reserve(c, epoch, (p) => p + 5),
    ]);
    expect(both).toEqual([
      { previous: 0, ceiling: 5 },
      { previous: 5, ceiling: 10 },
    ]);
    expect(await b.ceiling(c.id)).toBe(10);
    await pool.end();
  });

  it("a caller that gives up while its seed waits for a batch leaves it: no MySQL work is done for it", async () => {
    const log = stepLog();
    const { pool, backup: b, epoch } = await backup({ maxLocks: 2, seedBatch: { onStep: log.onStep } });
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const first = conv(401);
    const running = b.lockedSeed(first, async (reserve) => {
      await held;
      return reserve(first, epoch, () => 3);
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const controller = new AbortController();
    const leaving = conv(402);
    const gaveUp = b.lockedSeed(leaving, (reserve) => reserve(leaving, epoch, () => 3), {
      signal: controller.signal,
    });
    expect(b.lockSlots.waiting).toBe(1);
    controller.abort(new Error("deadline"));
    await expect(gaveUp).rejects.toThrow("deadline");
    expect(b.lockSlots.waiting).toBe(0);
    release();
    await running;
    expect(log.steps.filter((s) => s.step === "locked").map((s) => s.ids)).toEqual([[first.id]]);
    expect(await b.ceiling(leaving.id)).toBe(0);
    await pool.end();
  });
});
