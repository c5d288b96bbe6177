import http2 from "node:http2";
import { describe, expect, it } from "vitest";
import { exchangeBoth, pairForTests } from "../../../testing/differential/exchange.js";
import { callOf } from "../../../testing/differential/fixed-requests.js";
import type { WireRequest } from "../../../testing/differential/raw-client.js";
import { envelope } from "../../../testing/differential/request-model.js";

/**
 * Requests whose client has not finished sending (no END_STREAM yet): what the bytes already there
 * decide must be decided alike, and a body the server cuts for its slowness must not run a handler.
 */
const BODY_TIMEOUT_MS = 400;
const setup = pairForTests("registry", { settings: { requestBodyTimeoutMs: BODY_TIMEOUT_MS } });

/** Sent without its end; the client gives up (CANCEL) 100 ms after an answer's end, or after 1.5 s. */
function unfinished(request: WireRequest): Parameters<typeof exchangeBoth> {
  return [
    setup.clients,
    { ...request, keepOpen: true },
    "h2",
    {
      onStream: (stream) => {
        const cancel = () => stream.close(http2.constants.NGHTTP2_CANCEL);
        const timer = setTimeout(cancel, 1_500);
        // gRPC ends its answer with trailers, Connect with the body's last byte.
        const answered = () => {
          clearTimeout(timer);
          setTimeout(cancel, 100);
        };
        stream.once("trailers", answered);
        stream.once("end", answered);
        stream.once("close", () => clearTimeout(timer));
      },
    },
  ];
}

const lookup = callOf("registry", "Lookup", "ok-a");
const DECIDED_BY_THE_PREFIX: [string, Buffer][] = [
  [
    "an envelope that claims more than MAX_REQUEST_BYTES (RESOURCE_EXHAUSTED)",
    envelope(Buffer.from("\n\x01a"), 0, 1_000_000),
  ],
  ["an envelope flagged compressed without grpc-encoding (INTERNAL)", envelope(Buffer.from("\n\x01a"), 1)],
  [
    "a whole envelope whose message is not UTF-8 (INVALID_ARGUMENT)",
    envelope(Buffer.from([0x0a, 0x02, 0xff, 0xfe])),
  ],
  [
    "a second whole envelope (UNIMPLEMENTED: a unary call takes one message)",
    Buffer.concat([envelope(Buffer.from("\n\x01a")), envelope(Buffer.from("\n\x01a"))]),
  ],
];

describe("a gRPC call refused on the bytes already received, its client still sending", () => {
  it.each(DECIDED_BY_THE_PREFIX)("%s is answered at once on both paths", async (_name, body) => {
    const exchange = await exchangeBoth(...unfinished({ ...lookup, body }));
    expect(exchange.reference.answer.trailers["grpc-status"]).toBeDefined();
    expect(exchange.lean).toEqual(exchange.reference);
  });
});

describe("a Connect call refused on its headers, its client still sending", () => {
  it("a content-length over MAX_REQUEST_BYTES (RESOURCE_EXHAUSTED) is answered at once on both paths", async () => {
    const request = callOf("registry", "Lookup", "ok-a", {
      contentType: "application/proto",
      headers: { "content-length": "100000" },
    });
    const exchange = await exchangeBoth(...unfinished(request));
    expect(exchange.reference.answer.status).toBe(429);
    expect(exchange.lean).toEqual(exchange.reference);
  });
});

describe("a call whose body the server cuts at REQUEST_BODY_TIMEOUT_MS", () => {
  const complete: [string, WireRequest][] = [
    ["gRPC, one whole envelope", lookup],
    [
      "Connect binary, content-length met",
      callOf("registry", "Lookup", "ok-a", { contentType: "application/proto", headers: {} }),
    ],
  ];
  for (const [, request] of complete.slice(1))
    request.headers["content-length"] = String(request.body.length);

  it.each(complete)("(%s, END_STREAM never sent) runs no handler, on both paths", async (_name, request) => {
    const exchange = await exchangeBoth(setup.clients, { ...request, keepOpen: true });
    expect(exchange.elapsedMs.reference).toBeGreaterThanOrEqual(BODY_TIMEOUT_MS - 20);
    expect(exchange.reference.handlerCalls).toEqual([]);
    expect(exchange.lean).toEqual(exchange.reference);
  });
});
