import { expect, it } from "vitest";
import { pairForTests } from "../../../testing/differential/exchange.js";
import { callOf } from "../../../testing/differential/fixed-requests.js";
import { normalizeAnswer } from "../../../testing/differential/normalize.js";
import type { RawHttp2Client, WireRequest } from "../../../testing/differential/raw-client.js";
import { LEAN_CONTENT_TYPES } from "../../../testing/differential/request-spec.js";
import {
  countDelta,
  leanCalls,
  type Side,
  sideEffectCounts,
  TOKENS,
} from "../../../testing/differential/server-pair.js";

/**
 * Many calls at once on one connection, each with its own caller, request id, answer compression and
 * outcome: nothing of one call (the caller in its context, headers and trailers its handler set, its
 * request id) may show in another's answer, on either path.
 */
const setup = pairForTests("registry");

const DIRECTIVES = ["ok-a", "big", "headers", "err-5", "slow-15", "details-3", "store-unavailable", "empty"];
const ROLES = ["gateway", "router", "admin"] as const;

const requests: WireRequest[] = Array.from({ length: 96 }, (_, i) => {
  const contentType = LEAN_CONTENT_TYPES[i % 4]!;
  const accept =
    i % 3 === 0
      ? { [contentType.includes("grpc") ? "grpc-accept-encoding" : "accept-encoding"]: "gzip" }
      : {};
  return callOf("registry", "Lookup", DIRECTIVES[i % DIRECTIVES.length]!, {
    contentType,
    token: TOKENS[ROLES[i % 3]!],
    headers: { "x-request-id": `req-${i}`, ...accept },
  });
});

async function sendAll(side: Side, client: RawHttp2Client) {
  const before = await sideEffectCounts(side);
  const calls = side.handlers.calls.length;
  const answers = await Promise.all(requests.map((request) => client.send(request)));
  await new Promise((resolve) => setTimeout(resolve, 20));
  return {
    answers: answers.map((answer, i) => normalizeAnswer(answer, `req-${i}`)),
    counts: countDelta(before, await sideEffectCounts(side)),
    handlerCalls: side.handlers.calls.slice(calls).sort(),
  };
}

it("answers 96 concurrent calls of mixed callers, protocols and outcomes each as connectNodeAdapter does", async () => {
  const leanBefore = await leanCalls(setup.pair.lean);
  const [reference, lean] = await Promise.all([
    sendAll(setup.pair.reference, setup.clients.reference),
    sendAll(setup.pair.lean, setup.clients.lean),
  ]);
  expect(reference.answers.filter((answer) => answer.status === 200).length).toBeGreaterThan(0);
  for (const [i, answer] of lean.answers.entries()) {
    expect({ request: i, answer }).toEqual({ request: i, answer: reference.answers[i] });
  }
  expect(lean.counts).toEqual(reference.counts);
  expect(lean.handlerCalls).toEqual(reference.handlerCalls);
  // Every one of them went through the lean path (all are well-formed lean calls).
  expect(await leanCalls(setup.pair.lean)).toBe((leanBefore ?? 0) + requests.length);
});
