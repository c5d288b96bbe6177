import fc from "fast-check";
import { type Target, UTF8_MARKER } from "./request-model.js";
import { BODY_KINDS, LEAN_CONTENT_TYPES, type RequestSpec } from "./request-spec.js";
import { DIRECTIVES } from "./stand-in-handlers.js";

const ODD_CONTENT_TYPES = [
  "application/grpc+json",
  "application/grpc-web+proto",
  "application/grpc-web",
  "application/grpc-web-text",
  "application/connect+proto",
  "application/connect+json",
  "text/plain",
  "application/json; charset=utf-8",
  "application/proto;charset=utf-8",
  "application/grpc; foo=bar",
  "APPLICATION/GRPC",
  "Application/Json",
  "application/octet-stream",
];

const weighted = <T>(common: fc.Arbitrary<T>, rare: fc.Arbitrary<T>, commonWeight = 3) =>
  fc.oneof({ arbitrary: common, weight: commonWeight }, { arbitrary: rare, weight: 1 });
const maybe = <T>(arbitrary: fc.Arbitrary<T>, presentWeight = 1) =>
  fc.oneof({ arbitrary: fc.constant(undefined), weight: 2 }, { arbitrary, weight: presentWeight });

const directive = fc.oneof(
  { arbitrary: fc.constantFrom(...DIRECTIVES.slice(0, 4)), weight: 5 },
  { arbitrary: fc.constantFrom(...DIRECTIVES.slice(4)), weight: 4 },
  { arbitrary: fc.constantFrom("ok-ü🙂", "slow-20", `ok-${UTF8_MARKER}`), weight: 1 },
  { arbitrary: fc.string({ unit: "grapheme", maxLength: 12 }).map((s) => `ok-${s}`), weight: 1 },
);

const grpcTimeout = fc.oneof(
  fc.constantFrom("2S", "3000m", "5S", "2000000u"),
  fc.constantFrom("abc", "10", "1.5S", "123456789S", "-1S", "", "2s"),
  fc.constantFrom("6S", "5001m", "2M", "1H"),
  fc.constant("99999999H"),
);
const connectTimeout = fc.oneof(
  fc.constantFrom("2000", "5000", "4999"),
  fc.constantFrom("abc", "-1", "1e3", "", " 2000", "0x10", "2000.5"),
  fc.constantFrom("5001", "60000"),
  fc.constantFrom("99999999999999", "1e400"),
);
const acceptEncoding = fc.constantFrom(
  "gzip",
  "br",
  "identity",
  "snappy",
  "gzip, br",
  "br, gzip",
  "deflate",
  "*",
);
const headerValue = fc.stringMatching(/^[a-z0-9 ._-]{0,20}$/).map((s) => s.trim());

/**
 * Requests to `targets` (the paths of one server): mostly well-formed, each dimension sometimes odd.
 * Over HTTP/1.1 a content-length above the body is left out: the server would wait for the rest until
 * REQUEST_BODY_TIMEOUT_MS, whichever path (HTTP/2 resets such a stream at once).
 */
export function requestSpecArbitrary(targets: readonly Target[], http1 = false): fc.Arbitrary<RequestSpec> {
  const known = targets.filter((target) => target.kind !== "unknown").map((target) => target.path);
  const unknown = targets.filter((target) => target.kind === "unknown").map((target) => target.path);
  return fc.record({
    path: weighted(fc.constantFrom(...known), fc.constantFrom(...unknown), 10),
    query: weighted(
      fc.constant("" as const),
      fc.constantFrom("?junk=1" as const, "connect-get" as const),
      12,
    ),
    httpMethod: weighted(fc.constant("POST" as const), fc.constantFrom("GET" as const, "PUT" as const), 10),
    contentType: weighted(
      fc.constantFrom(...LEAN_CONTENT_TYPES),
      fc.oneof(fc.constantFrom(...ODD_CONTENT_TYPES), fc.constant(undefined)),
      3,
    ),
    directive,
    body: weighted(fc.constant("valid" as const), fc.constantFrom(...BODY_KINDS), 1),
    noise: fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 40 }),
    auth: weighted(
      fc.constantFrom("gateway" as const, "router" as const, "admin" as const),
      fc.constantFrom(
        "none" as const,
        "malformed" as const,
        "unknown" as const,
        "lowercase-bearer-router" as const,
      ),
      3,
    ),
    requestId: fc.constantFrom(
      "none" as const,
      "none" as const,
      "valid" as const,
      "invalid" as const,
      "too-long" as const,
    ),
    grpcTimeout: maybe(grpcTimeout),
    connectTimeout: maybe(connectTimeout),
    grpcAcceptEncoding: maybe(acceptEncoding),
    acceptEncoding: maybe(acceptEncoding),
    encodingHeader: fc.oneof(
      { arbitrary: fc.constant(undefined), weight: 12 },
      {
        arbitrary: fc.record({
          name: fc.constantFrom("grpc-encoding", "content-encoding", "connect-content-encoding"),
          value: fc.constantFrom("identity", "gzip", "snappy"),
        }),
        weight: 1,
      },
    ),
    te: fc.boolean(),
    connectProtocolVersion: fc.constantFrom(undefined, "1", "2"),
    origin: weighted(fc.constant("none" as const), fc.constantFrom("allowed" as const, "other" as const), 12),
    extra: fc.array(fc.tuple(fc.constantFrom("x-trace", "x-foo-bar", "x-stand-in-header"), headerValue), {
      maxLength: 2,
    }),
    contentLength: fc.constantFrom<RequestSpec["contentLength"][]>(
      "exact",
      "exact",
      "absent",
      "short",
      ...(http1 ? [] : (["long"] as const)),
    ),
  });
}
