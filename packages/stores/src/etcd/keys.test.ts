import { test } from "@fast-check/vitest";
import fc from "fast-check";
import { describe, expect } from "vitest";
import { KeyLayout } from "./keys.js";

const layout = new KeyLayout();
// Every well-formed string: what a UTF-8 ID can be, "/", "%", ":", emoji and all.
const id = fc.string({ unit: "binary", minLength: 1, maxLength: 40 });

describe("key layout", () => {
  test.prop([id, id, id, id])("distinct (user, device) pairs never share a key", (u1, d1, u2, d2) => {
    fc.pre(u1 !== u2 || d1 !== d2);
    expect(layout.deviceKey(u1, d1)).not.toBe(layout.deviceKey(u2, d2));
  });

  test.prop([id, id, id])("a user's prefix matches only that user's keys", (user, other, device) => {
    fc.pre(user !== other);
    expect(layout.deviceKey(user, device).startsWith(layout.userPrefix(user))).toBe(true);
    expect(layout.deviceKey(other, device).startsWith(layout.userPrefix(user))).toBe(false);
  });

  test.prop([id, id])("a key parses back to its IDs", (userId, deviceId) => {
    expect(layout.parse(layout.deviceKey(userId, deviceId))).toEqual({ userId, deviceId });
  });
});
