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

  it("callers of different keys take turns, each key's callers in arrival order", async () => {
    const slots = new Slots(1);
    const held = await slots.acquire();
    const order: string[] = [];
    const waiting = ["flood-1", "flood-2", "flood-3", "other-1", "flood-4", "other-2"].map((name) =>
      slots.acquire(undefined, name.split("-")[0]).then((release) => {
        order.push(name);
        release();
      }),
    );
    held();
    await Promise.all(waiting);
    expect(order).toEqual(["flood-1", "other-1", "flood-2", "other-2", "flood-3", "flood-4"]);
    expect(slots).toMatchObject({ inUse: 0, waiting: 0 });
  });

  it("a key whose waiters all gave up loses its turn; the others are not held up", async () => {
    const slots = new Slots(1);
    const held = await slots.acquire();
    const gone = new AbortController();
    const abandoned = [slots.acquire(gone.signal, "a"), slots.acquire(gone.signal, "a")];
    const kept = slots.acquire(undefined, "b");
    gone.abort(new Error("deadline"));
    for (const w of abandoned) await expect(w).rejects.toThrow("deadline");
    expect(slots.waiting).toBe(1);
    held();
    (await kept)();
    expect(slots).toMatchObject({ inUse: 0, waiting: 0 });
  });
});
