import { test } from "@fast-check/vitest";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MAX_FLOOR_USERS, WriteFloor } from "./write-floor.js";

describe("WriteFloor", () => {
  it("holds a read of a written user, not of the others, until the write is applied", async () => {
    const floor = new WriteFloor();
    floor.note(10, ["a", "b"]);
    expect(floor.for(["a"])).toBe(10);
    expect(floor.for(["c"])).toBe(0);
    expect(floor.for(["c", "b"])).toBe(10);
    expect(floor.for()).toBe(10);
    let applied = 9;
    const waiting = floor.wait(1_000, () => applied, ["a"]);
    expect(await floor.wait(1_000, () => applied, ["c"])).toBe(0); // not held
    applied = 10;
    floor.applied(10);
    expect(await waiting).toBe(10);
    expect(floor.for(["a"])).toBe(0); // forgotten once applied
    expect(floor.for()).toBe(10);
  });

  it("holds every read for a write whose users it cannot name, and for all when it tracks too many", () => {
    const floor = new WriteFloor();
    floor.note(5, ["a"]);
    floor.note(7);
    expect(floor.for(["z"])).toBe(7);
    for (let i = 0; i < MAX_FLOOR_USERS; i++) floor.note(8, [`u${i}`]);
    floor.note(9, ["last"]);
    expect(floor.for(["z"])).toBe(9);
  });

  test.prop([
    fc.array(
      fc.record({
        revision: fc.integer({ min: 1, max: 30 }),
        users: fc.option(fc.subarray(["a", "b", "c"])),
      }),
    ),
    fc.array(fc.integer({ min: 1, max: 30 })),
  ])(
    "never lets a read of a user below a write to it, or to unnamed users, that is not yet applied",
    (notes, applies) => {
      const floor = new WriteFloor();
      let applied = 0;
      const noted: { revision: number; users: string[] | null }[] = [];
      for (const [i, n] of notes.entries()) {
        floor.note(n.revision, n.users ?? undefined);
        noted.push(n);
        const step = applies[i];
        if (step !== undefined && step > applied) {
          applied = step;
          floor.applied(applied);
        }
        for (const user of ["a", "b", "c"]) {
          const needed = Math.max(
            0,
            ...noted.filter((w) => w.users === null || w.users.includes(user)).map((w) => w.revision),
          );
          // What a read of the user must wait for: every such write, unless the mirror already applied it.
          if (needed > applied) expect(floor.for([user])).toBeGreaterThanOrEqual(needed);
        }
      }
    },
  );
});
