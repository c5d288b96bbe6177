import fc from "fast-check";
import { afterEach, expect, it, vi } from "vitest";
import { RateLimiter } from "./rate-limiter.js";

afterEach(() => {
  vi.useRealTimers();
});

it("lets a burst through, then the rate, per key, and says when to retry", () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 50 }), fc.integer({ min: 1, max: 20 }), (rate, burst) => {
      vi.useFakeTimers();
      const limiter = new RateLimiter(rate, burst);
      for (let i = 0; i < burst; i++) expect(limiter.take("a")).toBe(0);
      const wait = limiter.take("a");
      expect(wait).toBeGreaterThan(0);
      expect(wait).toBeLessThanOrEqual(Math.ceil(1_000 / rate));
      expect(limiter.take("b")).toBe(0); // another caller has its own bucket
      vi.advanceTimersByTime(wait);
      expect(limiter.take("a")).toBe(0);
      vi.useRealTimers();
    }),
  );
});

it("charges work after the fact into debt, and waits until the debt is paid off", () => {
  vi.useFakeTimers();
  const limiter = new RateLimiter(10, 2);
  expect(limiter.wait("a")).toBe(0); // asking takes nothing
  expect(limiter.wait("a")).toBe(0);
  for (let i = 0; i < 4; i++) limiter.charge("a"); // two more than the burst: 2 tokens in debt
  expect(limiter.wait("a")).toBe(300); // 3 tokens at 10/s until one is whole again
  vi.advanceTimersByTime(290);
  expect(limiter.wait("a")).toBeGreaterThan(0);
  vi.advanceTimersByTime(11);
  expect(limiter.take("a")).toBe(0);
  expect(limiter.wait("b")).toBe(0);
});
