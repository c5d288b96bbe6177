import { describe, expect, it } from "vitest";
import { Slots } from "./slots.js";

describe("Slots", () => {
  it("lets `limit` callers in, queues the rest in order, hands a released slot to the next", async () => {
    const slots = new Slots(2);
    const a = await slots.acquire();
    const b = await slots.acquire();
    const order: string[] = [];
    const c = slots.acquire().then((release) => {
      order.push("c");
      return release;
    });
    const d = slots.acquire().then((release) => {
      order.push("d");
      return release;
    });
    expect(slots).toMatchObject({ inUse: 2, waiting: 2 });
    a();
    a(); // twice is once
    (await c)();
    b();
    (await d)();
    expect(order).toEqual(["c", "d"]);
    expect(slots).toMatchObject({ inUse: 0, waiting: 0 });
  });

  it("a waiter whose signal aborts leaves the queue with the signal's reason", async () => {
    const slots = new Slots(1);
    const held = await slots.acquire();
    const controller = new AbortController();
    const waiting = slots.acquire(controller.signal);
    const after = slots.acquire();
    controller.abort(new Error("deadline"));
    await expect(waiting).rejects.toThrow("deadline");
    held();
    (await after)();
    expect(slots).toMatchObject({ inUse: 0, waiting: 0 });
    await expect(slots.acquire(AbortSignal.abort(new Error("late")))).rejects.toThrow("late");
  });

  it("failWaiting fails those waiting, not those holding or arriving later", async () => {
    const slots = new Slots(1);
    const held = await slots.acquire();
    const waiting = [slots.acquire(), slots.acquire()];
    slots.failWaiting(new Error("down"));
    for (const w of waiting) await expect(w).rejects.toThrow("down");
    const later = slots.acquire();
    held();
    (await later)();
    expect(slots).toMatchObject({ inUse: 0, waiting: 0 });
  });
});
