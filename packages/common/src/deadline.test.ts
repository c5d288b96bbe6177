import fc from "fast-check";
import { afterEach, describe, expect, it, vi } from "vitest";
import { withDeadline } from "./deadline.js";

const expired = () => new Error("expired");

afterEach(() => {
  vi.useRealTimers();
});

describe("withDeadline", () => {
  it("settles as the work does when the work wins, and leaves no timer behind", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 50 }), fc.boolean(), async (workMs, fails) => {
        vi.useFakeTimers();
        const work = new Promise<string>((resolve, reject) =>
          setTimeout(() => (fails ? reject(new Error("work failed")) : resolve("done")), workMs),
        );
        const raced = withDeadline(work, workMs + 10, expired);
        const outcome = raced.then(
          (value) => value,
          (error: Error) => error.message,
        );
        await vi.advanceTimersByTimeAsync(workMs);
        expect(await outcome).toBe(fails ? "work failed" : "done");
        expect(vi.getTimerCount()).toBe(0);
        vi.useRealTimers();
      }),
    );
  });

  it("rejects with onTimeout() once the time passes, whatever the work does later", async () => {
    vi.useFakeTimers();
    let finish!: (value: string) => void;
    const raced = withDeadline(new Promise<string>((resolve) => (finish = resolve)), 100, expired);
    const outcome = raced.catch((error: Error) => error.message);
    await vi.advanceTimersByTimeAsync(100);
    expect(await outcome).toBe("expired");
    finish("late");
    expect(vi.getTimerCount()).toBe(0);
  });

  it("rejects at once when the signal aborts, and at once when it was already aborted", async () => {
    const abort = new AbortController();
    const pending = withDeadline(new Promise(() => {}), 60_000, expired, abort.signal);
    abort.abort();
    await expect(pending).rejects.toThrow("expired");
    await expect(withDeadline(Promise.resolve(1), 60_000, expired, abort.signal)).rejects.toThrow("expired");
    await expect(withDeadline(Promise.resolve(1), 0, expired)).rejects.toThrow("expired");
  });
});
