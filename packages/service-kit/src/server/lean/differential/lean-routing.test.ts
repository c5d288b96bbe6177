import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exchangeBoth, PairClients } from "../../../testing/differential/exchange.js";
import { callOf } from "../../../testing/differential/fixed-requests.js";
import type { WireRequest } from "../../../testing/differential/raw-client.js";
import { ALLOWED_ORIGIN, startServerPair, TOKENS } from "../../../testing/differential/server-pair.js";

/**
 * Which calls take the lean path: the differential comparison only means something if the lean server
 * really served the lean cases itself (rpc_lean_calls_total +1) and left every other case to
 * connectNodeAdapter (+0). Each case is also compared with the reference server.
 */
type PairName = "registry" | "sequence" | "registry over TLS" | "sequence without Current";
const clients = new Map<PairName, PairClients>();

beforeAll(async () => {
  const pairs = await Promise.all([
    startServerPair("registry"),
    startServerPair("sequence"),
    startServerPair("registry", { tls: true }),
    startServerPair("sequence", { unimplemented: ["current"] }),
  ]);
  const names: PairName[] = ["registry", "sequence", "registry over TLS", "sequence without Current"];
  for (const [i, pair] of pairs.entries()) clients.set(names[i]!, new PairClients(pair));
});
afterAll(async () => {
  await Promise.all(
    [...clients.values()].map(async (client) => {
      client.close();
      await client.pair.close();
    }),
  );
});

const gateway = { token: TOKENS.gateway };
const LEAN: [string, PairName, WireRequest][] = [
  ["gRPC (application/grpc)", "registry", callOf("registry", "Lookup", "ok-a")],
  ["gRPC over TLS", "registry over TLS", callOf("registry", "Register", "ok-a")],
  [
    "gRPC (application/grpc+proto), a big answer gzip-compressed",
    "registry",
    callOf("registry", "Lookup", "big", {
      contentType: "application/grpc+proto",
      headers: { "grpc-accept-encoding": "gzip" },
    }),
  ],
  [
    "Connect binary (application/proto)",
    "sequence",
    callOf("sequence", "Next", "ok-a", { contentType: "application/proto" }),
  ],
  [
    "Connect JSON (application/json), a big answer br-compressed",
    "sequence",
    callOf("sequence", "ListSnapshots", "big", {
      contentType: "application/json",
      token: TOKENS.admin,
      headers: { "accept-encoding": "br" },
    }),
  ],
  ["a call refused for its missing token", "registry", callOf("registry", "Lookup", "ok-a", { token: null })],
  ["a call refused for its role", "sequence", callOf("sequence", "ListSnapshots", "ok-a", gateway)],
  ["a handler error with details", "registry", callOf("registry", "GrantLease", "details-9")],
  [
    "a store error",
    "sequence",
    callOf("sequence", "BatchNext", "store-exhausted", { contentType: "application/json" }),
  ],
  [
    "identity request encodings",
    "sequence",
    callOf("sequence", "Current", "ok-a", {
      contentType: "application/proto",
      headers: {
        "content-encoding": "identity",
        "connect-content-encoding": "identity",
        "grpc-encoding": "identity",
      },
    }),
  ],
];

/**
 * Calls the lean path takes by their headers but hands to Connect (its design: Connect words every
 * refusal of a body or a deadline); whichever path answers, the answer must be the adapter's.
 */
const HANDED_TO_CONNECT: [string, PairName, WireRequest][] = [
  ["a body over MAX_REQUEST_BYTES", "registry", callOf("registry", "Lookup", "x".repeat(5000))],
  [
    "an invalid grpc-timeout",
    "registry",
    callOf("registry", "Lookup", "ok-a", { headers: { "grpc-timeout": "1.5S" } }),
  ],
  [
    "a connect-timeout-ms over MAX_CALL_TIMEOUT_MS",
    "sequence",
    callOf("sequence", "Next", "ok-a", {
      contentType: "application/json",
      headers: { "connect-timeout-ms": "5001" },
    }),
  ],
  [
    "an incomplete envelope",
    "registry",
    { ...callOf("registry", "Lookup", "ok-a"), body: Buffer.from([0, 0, 0, 0, 9, 0x0a]) },
  ],
  [
    "a message that does not decode",
    "sequence",
    {
      ...callOf("sequence", "Next", "ok-a", { contentType: "application/proto" }),
      body: Buffer.from([0xff, 0xff]),
    },
  ],
];

const watch = callOf("registry", "Watch", "ok-a", { token: TOKENS.router });
const FALL_THROUGH: [string, PairName, WireRequest, ("h2" | "http1")?][] = [
  ["a server-streaming method (Watch)", "registry", watch],
  [
    "a unary method without an implementation",
    "sequence without Current",
    callOf("sequence", "Current", "ok-a"),
  ],
  [
    "gRPC-Web",
    "registry",
    callOf("registry", "Lookup", "ok-a", { contentType: "application/grpc-web+proto" }),
  ],
  [
    "gRPC with JSON (application/grpc+json)",
    "registry",
    callOf("registry", "Lookup", "ok-a", { contentType: "application/grpc+json" }),
  ],
  [
    "a Connect streaming content type",
    "sequence",
    callOf("sequence", "Next", "ok-a", { contentType: "application/connect+proto" }),
  ],
  ["a gzip-compressed gRPC request", "registry", callOf("registry", "Lookup", "ok-a", { gzipped: true })],
  [
    "a gzip-compressed Connect request",
    "sequence",
    callOf("sequence", "Next", "ok-a", { contentType: "application/proto", gzipped: true }),
  ],
  [
    "Connect GET",
    "registry",
    {
      method: "GET",
      path: `/im.registry.v1.RegistryService/Lookup?connect=v1&encoding=json&message=${encodeURIComponent('{"userId":"ok-a"}')}`,
      headers: { authorization: `Bearer ${TOKENS.gateway}` },
      body: Buffer.alloc(0),
    },
  ],
  ["PUT", "registry", callOf("registry", "Lookup", "ok-a", { httpMethod: "PUT" })],
  ["a query string", "registry", callOf("registry", "Lookup", "ok-a", { query: "?x=1" })],
  [
    "a path no method has",
    "registry",
    { ...callOf("registry", "Lookup", "ok-a"), path: "/im.registry.v1.RegistryService/Nope" },
  ],
  [
    "a browser (origin header)",
    "sequence",
    callOf("sequence", "Next", "ok-a", {
      contentType: "application/json",
      headers: { origin: ALLOWED_ORIGIN },
    }),
  ],
  [
    "a content type with a charset",
    "sequence",
    callOf("sequence", "Next", "ok-a", { contentType: "application/json; charset=utf-8" }),
  ],
  [
    "a content type in upper case",
    "registry",
    callOf("registry", "Lookup", "ok-a", { contentType: "APPLICATION/GRPC" }),
  ],
  [
    "no content type",
    "registry",
    {
      ...callOf("registry", "Lookup", "ok-a", { contentType: "application/proto" }),
      headers: { authorization: `Bearer ${TOKENS.gateway}` },
    },
  ],
  [
    "an unknown request encoding",
    "registry",
    callOf("registry", "Lookup", "ok-a", { headers: { "grpc-encoding": "snappy" } }),
  ],
  [
    "Connect JSON over HTTP/1.1",
    "sequence",
    callOf("sequence", "Next", "ok-a", { contentType: "application/json" }),
    "http1",
  ],
  [
    "gRPC-Web over HTTP/1.1",
    "registry",
    callOf("registry", "Lookup", "big", { contentType: "application/grpc-web+proto" }),
    "http1",
  ],
  [
    "Connect binary over HTTP/1.1",
    "registry",
    callOf("registry", "Lookup", "ok-a", { contentType: "application/proto" }),
    "http1",
  ],
];

describe("the lean path", () => {
  it.each(LEAN)("serves %s itself, answering as connectNodeAdapter does", async (_name, pair, request) => {
    const exchange = await exchangeBoth(clients.get(pair)!, request);
    expect(exchange.lean).toEqual(exchange.reference);
    expect(exchange.leanServed).toBe(1);
    expect(exchange.referenceLeanServed ?? 0).toBe(0);
  });

  it.each(HANDED_TO_CONNECT)("answers %s as connectNodeAdapter does", async (_name, pair, request) => {
    const exchange = await exchangeBoth(clients.get(pair)!, request);
    expect(exchange.lean).toEqual(exchange.reference);
  });

  it.each(FALL_THROUGH)(
    "leaves %s to connectNodeAdapter, unchanged",
    async (_name, pair, request, transport) => {
      const exchange = await exchangeBoth(clients.get(pair)!, request, transport ?? "h2");
      expect(exchange.lean).toEqual(exchange.reference);
      expect(exchange.leanServed).toBe(0);
    },
  );
});
