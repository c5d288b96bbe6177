import fc from "fast-check";
import { expect, it } from "vitest";
import { backoff } from "./backoff.js";

it("backoff doubles from the base up to the cap, within ±50 % jitter", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: -1, max: 60 }),
      fc.integer({ min: 1, max: 1_000 }),
      fc.integer({ min: 1, max: 60_000 }),
      (attempt, baseMs, maxMs) => {
        const nominal = Math.min(baseMs * 2 ** Math.max(0, attempt), maxMs);
        const delay = backoff(attempt, baseMs, maxMs);
        expect(delay).toBeGreaterThanOrEqual(nominal * 0.5);
        expect(delay).toBeLessThan(nominal * 1.5);
      },
    ),
  );
});
