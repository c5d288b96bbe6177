import { test } from "@fast-check/vitest";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonical, Interner } from "./interner.js";

const key = fc.oneof(fc.string({ unit: "binary", maxLength: 12 }), fc.bigInt({ min: 0n, max: 2n ** 64n }));

describe("Interner", () => {
  test.prop([fc.array(key, { maxLength: 200 }), fc.integer({ min: 1, max: 16 })])(
    "never conflates distinct values, and answers a value equal to its key, at any capacity",
    (keys, capacity) => {
      const interner = canonical<string | bigint>(capacity);
      for (const k of keys) {
        expect(interner.get(k)).toBe(k); // primitives: the same value, wherever it came from
        expect(interner.size).toBeLessThanOrEqual(capacity);
      }
    },
  );

  test.prop([fc.array(fc.integer({ min: 0, max: 50 }), { maxLength: 200 }), fc.integer({ min: 1, max: 8 })])(
    "hands out one object per key while it holds the key, and never another key's",
    (keys, capacity) => {
      const interner = new Interner((ms: number) => ({ ms }), capacity);
      const seen = new Map<number, { ms: number }>();
      for (const k of keys) {
        const value = interner.get(k);
        expect(value.ms).toBe(k);
        for (const [other, object] of seen) if (other !== k) expect(value).not.toBe(object);
        seen.set(k, value);
      }
    },
  );

  it("shares one value per key until it is full, then starts over", () => {
    let made = 0;
    const interner = new Interner((n: number) => ({ n, made: ++made }), 2);
    const a = interner.get(1);
    expect(interner.get(1)).toBe(a);
    interner.get(2);
    expect(made).toBe(2);
    interner.get(3); // full: forgets 1 and 2
    expect(interner.size).toBe(1);
    expect(interner.get(1)).not.toBe(a);
    expect(interner.get(1)).toEqual({ n: 1, made: 4 });
  });
});
