import { test } from "@fast-check/vitest";
import { idArb, invalidIdArb } from "@im-core/testkit";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { optionalLeaseId, requireLeaseId, requireRevision, requireTtl, requireUserIds } from "./validate.js";

describe("request validation", () => {
  it("names the field that is wrong", () => {
    expect(() => requireLeaseId(-1n)).toThrow("lease_id: must be a lease id");
    expect(() => requireLeaseId(0n)).toThrow("lease_id: must be a lease id");
    expect(optionalLeaseId(0n)).toBeUndefined();
    expect(() => optionalLeaseId(-5n)).toThrow("lease_id: ");
    expect(() => requireTtl(86_401)).toThrow("ttl_seconds: must be between 0 (service default) and 86400");
    expect(requireTtl(0)).toBe(0);
    expect(() => requireUserIds(Array.from({ length: 1_001 }, (_, i) => `u${i}`))).toThrow(
      "user_ids: at most 1000 entries, got 1001",
    );
    expect(() => requireUserIds(["ok", "", "fine"])).toThrow("user_ids[1]: must not be empty");
    expect(requireUserIds(["a", "b", "a"])).toEqual(["a", "b"]);
    expect(() => requireRevision(-1n, "start_revision")).toThrow("start_revision: must be between 0 and");
    expect(() => requireRevision(2n ** 53n, "start_revision")).toThrow("start_revision: ");
  });

  test.prop([fc.array(idArb, { maxLength: 5 }), invalidIdArb, fc.nat(5)])(
    "rejects a list holding any invalid ID, naming its index",
    (good, bad, at) => {
      const ids = [...good];
      const index = Math.min(at, ids.length);
      ids.splice(index, 0, bad);
      expect(() => requireUserIds(ids)).toThrow(
        new RegExp(`^\\[invalid_argument\\] user_ids\\[${index}\\]: `),
      );
    },
  );
});
