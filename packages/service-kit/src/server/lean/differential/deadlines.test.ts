import { describe, expect, it } from "vitest";
import { type Exchange, exchangeBoth, pairForTests } from "../../../testing/differential/exchange.js";
import { callOf } from "../../../testing/differential/fixed-requests.js";
import { LEAN_CONTENT_TYPES } from "../../../testing/differential/request-spec.js";
import { LIMITS } from "../../../testing/differential/server-pair.js";

const setup = pairForTests("sequence");

const isGrpc = (contentType: string) => contentType.startsWith("application/grpc");

/** The client deadline header of the protocol `contentType` speaks, for `ms`. */
const deadline = (contentType: string, ms: number): Record<string, string> =>
  isGrpc(contentType) ? { "grpc-timeout": `${ms}m` } : { "connect-timeout-ms": String(ms) };

function expectWithin(exchange: Exchange, low: number, high: number): void {
  for (const ms of [exchange.elapsedMs.reference, exchange.elapsedMs.lean]) {
    expect(ms).toBeGreaterThanOrEqual(low);
    expect(ms).toBeLessThan(high);
  }
}

/** DEADLINE_EXCEEDED in the protocol's own form (gRPC status 4, Connect "deadline_exceeded"). */
function expectDeadlineExceeded(exchange: Exchange, contentType: string): void {
  const { answer } = exchange.reference;
  if (isGrpc(contentType)) expect(answer.trailers["grpc-status"] ?? answer.headers["grpc-status"]).toBe("4");
  else expect(answer.body).toMatchObject({ kind: "json", value: { code: "deadline_exceeded" } });
}

describe.each(LEAN_CONTENT_TYPES)("%s", (contentType) => {
  it("answers DEADLINE_EXCEEDED at the client's deadline, on both paths alike", async () => {
    const request = callOf("sequence", "Next", "slow-5000", {
      contentType,
      headers: deadline(contentType, 200),
    });
    const exchange = await exchangeBoth(setup.clients, request);
    expectDeadlineExceeded(exchange, contentType);
    expectWithin(exchange, 180, 2_000);
    expect(exchange.lean).toEqual(exchange.reference);
  });

  it("answers DEADLINE_EXCEEDED at the server's default deadline when the client set none", async () => {
    const request = callOf("sequence", "Current", "slow-5000", { contentType });
    const exchange = await exchangeBoth(setup.clients, request);
    expectDeadlineExceeded(exchange, contentType);
    expectWithin(exchange, LIMITS.defaultCallTimeoutMs - 20, 2_000);
    expect(exchange.lean).toEqual(exchange.reference);
  });

  it("lets a call finish well within the client's deadline", async () => {
    const request = callOf("sequence", "Next", "slow-50", {
      contentType,
      headers: deadline(contentType, 2_000),
    });
    const exchange = await exchangeBoth(setup.clients, request);
    expect(exchange.reference.answer.status).toBe(200);
    expectWithin(exchange, 40, 1_500);
    expect(exchange.lean).toEqual(exchange.reference);
  });
});

describe("deadline headers of the other protocol", () => {
  it("a Connect call ignores grpc-timeout and still gets the default deadline, on both paths", async () => {
    const request = callOf("sequence", "Next", "slow-2000", {
      contentType: "application/proto",
      headers: { "grpc-timeout": "100m" },
    });
    const exchange = await exchangeBoth(setup.clients, request);
    expect(exchange.reference.answer.status).toBe(504);
    expectWithin(exchange, 250, 1_800);
    expect(exchange.lean).toEqual(exchange.reference);
  });

  it("a gRPC call ignores connect-timeout-ms and still gets the default deadline, on both paths", async () => {
    const request = callOf("sequence", "Next", "slow-2000", { headers: { "connect-timeout-ms": "100" } });
    const exchange = await exchangeBoth(setup.clients, request);
    expect(exchange.reference.answer.trailers["grpc-status"]).toBe("4");
    expectWithin(exchange, 250, 1_800);
    expect(exchange.lean).toEqual(exchange.reference);
  });
});
