import { afterAll, describe, expect, it } from "vitest";
import { pairForTests } from "../../../testing/differential/exchange.js";
import {
  checkEquivalence,
  misrouted,
  newReport,
  PROPERTY_TIMEOUT_MS,
  summary,
} from "../../../testing/differential/property.js";

const SEED = 20_261_203;

describe("the registry service over TLS (HTTP/2 by ALPN)", () => {
  const setup = pairForTests("registry", { tls: true });
  const report = newReport();
  afterAll(() => {
    console.log(summary("registry TLS", report));
  });

  it("answers every generated request on the lean path exactly as connectNodeAdapter does", {
    timeout: PROPERTY_TIMEOUT_MS,
  }, async () => {
    await checkEquivalence(setup.clients, { transport: "h2", numRuns: 250, seed: SEED, report });
  });

  it("served exactly the lean-eligible requests of that run on the lean path", () => {
    expect(misrouted(report)).toEqual({ count: 0, first: [] });
  });
});

describe("the sequence service over HTTP/1.1, where every call falls through to connectNodeAdapter", () => {
  const setup = pairForTests("sequence");
  const report = newReport();
  afterAll(() => {
    console.log(summary("sequence HTTP/1.1", report));
  });

  it("answers every generated request the same with and without the lean path", {
    timeout: PROPERTY_TIMEOUT_MS,
  }, async () => {
    await checkEquivalence(setup.clients, { transport: "http1", numRuns: 150, seed: SEED, report });
  });

  it("served none of them on the lean path", () => {
    expect(misrouted(report)).toEqual({ count: 0, first: [] });
  });
});
