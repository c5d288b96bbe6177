import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { gatewayArb, idArb, invalidIdArb, isValidId } from "./index.js";

describe.concurrent("arbitraries", () => {
  test("idArb yields only valid IDs and reaches the nasty corners", () => {
    fc.assert(
      fc.property(idArb, (id) => isValidId(id)),
      { numRuns: 2000 },
    );
    const sample = fc.sample(idArb, { numRuns: 3000, seed: 42 });
    for (const needle of ["/", "%", ":", " ", "\\", "|", "\u0301"]) {
      expect(sample.some((id) => id.includes(needle))).toBe(true);
    }
    expect(sample.some((id) => /\p{Extended_Pictographic}/u.test(id))).toBe(true);
    expect(sample.some((id) => [...id].some((c) => c.codePointAt(0)! > 0xffff))).toBe(true);
    expect(sample.some((id) => Buffer.byteLength(id) === 256)).toBe(true);
  });

  test("invalidIdArb yields only invalid IDs", () => {
    fc.assert(
      fc.property(invalidIdArb, (id) => !isValidId(id)),
      { numRuns: 2000 },
    );
  });

  test("gatewayArb yields non-empty addresses of at most 256 bytes", () => {
    fc.assert(
      fc.property(gatewayArb, (gw) => gw.length > 0 && Buffer.byteLength(gw) <= 256 && isValidId(gw)),
      { numRuns: 1000 },
    );
  });
});
