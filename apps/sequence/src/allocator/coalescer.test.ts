import { test } from "@fast-check/vitest";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { SequenceRange } from "./allocator.js";
import { type Batch, Coalescer } from "./coalescer.js";

/** A counter behind a slow "script call": every run is recorded with the batch it served. */
function fakeCounter(opts: { limit?: number; absorb?: boolean } = {}) {
  let cur = 0;
  const runs: number[][] = [];
  const coalescer = new Coalescer<string>({
    allocate: async (_subject, batch: Batch) => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      if (opts.absorb) batch.absorbQueued();
      runs.push([batch.size, batch.total]);
      if (cur + batch.total > (opts.limit ?? Number.POSITIVE_INFINITY)) {
        throw Object.assign(new Error("exhausted"), { kind: "exhausted" });
      }
      cur += batch.total;
      return { first: cur - batch.total + 1, last: cur };
    },
    splitOn: (error) => (error as { kind?: string }).kind === "exhausted",
  });
  return { coalescer, runs };
}

describe("coalescing calls of one key", () => {
  test.prop([fc.array(fc.integer({ min: 1, max: 100 }), { minLength: 1, maxLength: 50 }), fc.boolean()])(
    "callers arriving together share runs; ranges are disjoint, exact, and follow arrival order",
    async (counts, absorb) => {
      const { coalescer, runs } = fakeCounter({ absorb });
      const ranges = await Promise.all(counts.map((count) => coalescer.next("k", "k", count)));
      let expected = 1;
      for (const [i, range] of ranges.entries()) {
        expect(range).toEqual({ first: expected, last: expected + counts[i]! - 1 });
        expected = range.last + 1;
      }
      // The first caller runs alone; everyone who arrived while it ran shares the second run.
      expect(runs.length).toBeLessThanOrEqual(Math.min(2, counts.length));
    },
  );

  it("keeps keys apart and forgets idle ones", async () => {
    const { coalescer, runs } = fakeCounter();
    const [a, b] = await Promise.all([coalescer.next("a", "a", 2), coalescer.next("b", "b", 3)]);
    expect(a.first).toBe(1);
    expect(b.first).toBe(3); // one shared fake counter, but two separate runs
    expect(runs).toEqual([
      [1, 2],
      [1, 3],
    ]);
  });

  it("a batch that does not fit is served caller by caller, in order, so the ones that fit still do", async () => {
    const { coalescer } = fakeCounter({ limit: 10 });
    await coalescer.next("k", "k", 1);
    const results = await Promise.allSettled([6, 2, 5, 1].map((count) => coalescer.next("k", "k", count)));
    expect(results.map((r) => (r.status === "fulfilled" ? r.value : "exhausted"))).toEqual<
      (SequenceRange | string)[]
    >([{ first: 2, last: 7 }, { first: 8, last: 9 }, "exhausted", { first: 10, last: 10 }]);
  });

  it("any other failure reaches every caller of the batch", async () => {
    const coalescer = new Coalescer<string>({
      allocate: () => Promise.reject(new Error("Redis down")),
      splitOn: () => false,
    });
    const results = await Promise.allSettled([1, 2, 3].map((count) => coalescer.next("k", "k", count)));
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected", "rejected"]);
  });
});

describe("Coalescer and the callers' signals", () => {
  it("a caller giving up is answered at once; its batch's signal aborts only when all gave up", async () => {
    let release!: (range: SequenceRange) => void;
    const signals: AbortSignal[] = [];
    const coalescer = new Coalescer<string>({
      allocate: (_subject, batch) => {
        signals.push(batch.signal);
        return new Promise((resolve) => {
          release = resolve;
        });
      },
    });
    const [a, b, c] = [new AbortController(), new AbortController(), new AbortController()];
    const first = coalescer.next("k", "k", 1, { signal: a.signal });
    const queued = [
      coalescer.next("k", "k", 2, { signal: b.signal }),
      coalescer.next("k", "k", 3, { signal: c.signal }),
    ];
    b.abort(new Error("b gave up"));
    await expect(queued[0]).rejects.toThrow("b gave up");
    a.abort(new Error("a gave up"));
    await expect(first).rejects.toThrow("a gave up");
    expect(signals[0]!.aborted).toBe(true);
    release({ first: 1, last: 1 });
    // b left the queue: the next batch is c alone, and its signal is live.
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(signals[1]!.aborted).toBe(false);
    release({ first: 2, last: 4 });
    expect(await queued[1]).toEqual({ first: 2, last: 4 });
  });
});

describe("Coalescer and first-touch gates", () => {
  /** A gate with `tokens` admissions, charged once per conversation created. */
  const gate = (tokens: number) => {
    const state = {
      tokens,
      admit: () => (state.tokens > 0 ? undefined : new Error("over the limit")),
      charge: () => {
        state.tokens -= 1;
      },
    };
    return state;
  };

  /** Seeds on every run: asks the batch's gates, then creates a conversation or not. */
  const seeding = (creates: boolean) =>
    new Coalescer<string>({
      allocate: async (_subject, batch) => {
        await new Promise((resolve) => setTimeout(resolve, 1));
        batch.admitFirstTouch();
        if (creates) batch.chargeFirstTouch();
        return { first: 1, last: batch.total };
      },
    });

  it("refused callers leave the batch with the gate's error; the others share the range in order", async () => {
    const coalescer = seeding(true);
    const [open, closed] = [gate(5), gate(0)];
    const calls = [
      coalescer.next("k", "k", 1, { firstTouch: open }), // runs alone
      coalescer.next("k", "k", 2, { firstTouch: closed }),
      coalescer.next("k", "k", 3, { firstTouch: open }),
      coalescer.next("k", "k", 4),
    ];
    const results = await Promise.allSettled(calls);
    expect(results.map((r) => (r.status === "fulfilled" ? r.value : (r.reason as Error).message))).toEqual([
      { first: 1, last: 1 },
      "over the limit",
      { first: 1, last: 3 },
      { first: 4, last: 7 },
    ]);
    // Charged once per run that created something, however many of its calls a run served.
    expect(open.tokens).toBe(3);
    expect(closed.tokens).toBe(0);
  });

  it("a batch whose callers are all refused fails with the refusal", async () => {
    await expect(seeding(true).next("k", "k", 1, { firstTouch: gate(0) })).rejects.toThrow("over the limit");
  });

  it("a seed that created nothing (a counter lost with Redis) charges nobody", async () => {
    const limited = gate(1);
    await seeding(false).next("k", "k", 1, { firstTouch: limited });
    expect(limited.tokens).toBe(1);
  });

  it("a batch whose live callers are all refused does no work, even when a caller that gave up is left", async () => {
    let rounds = 0;
    const coalescer = new Coalescer<string>({
      allocate: async (_subject, batch) => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        batch.admitFirstTouch();
        rounds += 1; // the MySQL round
        return { first: 1, last: batch.total };
      },
    });
    const first = coalescer.next("k", "k", 1); // runs alone, no gate
    const gaveUp = coalescer.next("k", "k", 1, { signal: AbortSignal.timeout(5) });
    const refused = coalescer.next("k", "k", 1, { firstTouch: gate(0) });
    const results = await Promise.allSettled([first, gaveUp, refused]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "rejected"]);
    expect(rounds).toBe(1);
  });
});
