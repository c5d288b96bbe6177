import { describe, expect, it } from "vitest";
import { type QueuedSeed, SeedQueue } from "./seed-queue.js";

interface TestSeed extends QueuedSeed {
  readonly name: string;
  failedWith?: unknown;
}

function seed(name: string, opts: Partial<Omit<QueuedSeed, "fail">> = {}): TestSeed {
  const s: TestSeed = {
    name,
    lock: opts.lock ?? name,
    bytes: opts.bytes ?? 200,
    turn: opts.turn,
    admit: opts.admit,
    signal: opts.signal,
    fail: (error) => {
      s.failedWith = error;
    },
  };
  return s;
}

const names = (seeds: readonly TestSeed[]) => seeds.map((s) => s.name);
const open = () => {};

describe("SeedQueue", () => {
  it("fills a batch one seed per turn in turn, each turn's seeds in arrival order", () => {
    const q = new SeedQueue<TestSeed>(100);
    for (const name of ["a1", "a2", "a3", "a4"]) q.add(seed(name, { turn: "a" }));
    for (const name of ["b1", "b2"]) q.add(seed(name, { turn: "b" }));
    expect(names(q.take({ rows: 4, bytes: 1e6 }))).toEqual(["a1", "b1", "a2", "b2"]);
    expect(names(q.take({ rows: 4, bytes: 1e6 }))).toEqual(["a3", "a4"]);
    expect(q.size).toBe(0);
  });

  it("stops a batch at its row and byte bounds; a single seed always fits", () => {
    const q = new SeedQueue<TestSeed>(100);
    for (let i = 0; i < 10; i += 1) q.add(seed(`s${i}`, { bytes: 300 }));
    expect(q.take({ rows: 3, bytes: 1e6 })).toHaveLength(3);
    expect(q.take({ rows: 100, bytes: 1_000 })).toHaveLength(3);
    expect(q.take({ rows: 100, bytes: 10 })).toHaveLength(1);
    expect(q.size).toBe(3);
  });

  it("takes at most perTurn gated seeds of a turn until they are done; ungated seeds are not counted", () => {
    const q = new SeedQueue<TestSeed>(2);
    const gated = ["g1", "g2", "g3"].map((name) => seed(name, { turn: "t", admit: open }));
    for (const s of gated) q.add(s);
    q.add(seed("free", { turn: undefined }));
    expect(names(q.take({ rows: 10, bytes: 1e6 }))).toEqual(["g1", "free", "g2"]);
    expect(q.take({ rows: 10, bytes: 1e6 })).toEqual([]);
    q.done(gated[0]!);
    expect(names(q.take({ rows: 10, bytes: 1e6 }))).toEqual(["g3"]);
  });

  it("asks a seed's gate only when the seed is taken; a refused seed is answered and left out", () => {
    const q = new SeedQueue<TestSeed>(100);
    const asked: string[] = [];
    const refusal = new Error("over the limit");
    const refused = seed("no", {
      turn: "t",
      admit: () => {
        asked.push("no");
        throw refusal;
      },
    });
    q.add(refused);
    q.add(seed("yes", { turn: "t", admit: () => asked.push("yes") }));
    expect(asked).toEqual([]);
    expect(names(q.take({ rows: 10, bytes: 1e6 }))).toEqual(["yes"]);
    expect(asked).toEqual(["no", "yes"]);
    expect(refused.failedWith).toBe(refusal);
  });

  it("a seed whose callers gave up leaves the queue at once, answered with their reason", () => {
    const q = new SeedQueue<TestSeed>(100);
    const controller = new AbortController();
    const leaving = seed("leaving", { signal: controller.signal });
    q.add(leaving);
    q.add(seed("staying"));
    controller.abort(new Error("deadline"));
    expect(leaving.failedWith).toEqual(new Error("deadline"));
    expect(q.size).toBe(1);
    expect(names(q.take({ rows: 10, bytes: 1e6 }))).toEqual(["staying"]);
  });

  it("never puts two seeds with one lock name in a batch", () => {
    const q = new SeedQueue<TestSeed>(100);
    q.add(seed("x", { lock: "same", turn: "a" }));
    q.add(seed("y", { lock: "same", turn: "b" }));
    expect(names(q.take({ rows: 10, bytes: 1e6 }))).toEqual(["x"]);
    expect(names(q.take({ rows: 10, bytes: 1e6 }))).toEqual(["y"]);
  });

  it("failAll answers every waiting seed", () => {
    const q = new SeedQueue<TestSeed>(100);
    const seeds = [seed("a", { turn: 1 }), seed("b", { turn: 2 })];
    for (const s of seeds) q.add(s);
    const down = new Error("MySQL unavailable");
    q.failAll(down);
    expect(seeds.map((s) => s.failedWith)).toEqual([down, down]);
    expect(q.size).toBe(0);
  });
});
