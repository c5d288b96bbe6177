import type { Role } from "../../security/tokens.js";
import type { WireRequest } from "./raw-client.js";
import {
  breakUtf8,
  encodeRequest,
  envelope,
  gzip,
  type Target,
  UTF8_MARKER,
  unknownBinaryField,
  withJsonKey,
} from "./request-model.js";
import { ACCESS, ALLOWED_ORIGIN, LIMITS, TOKENS } from "./server-pair.js";

/** The content types the lean path serves (exactly these strings); every other one falls through. */
export const LEAN_CONTENT_TYPES = [
  "application/grpc",
  "application/grpc+proto",
  "application/proto",
  "application/json",
];
export const BODY_KINDS = [
  "valid",
  "unknown-field",
  "unknown-enum",
  "invalid-utf8",
  "random",
  "garbage-in-envelope",
  "truncated",
  "two-envelopes",
  "compressed-flag",
  "empty",
  "oversize",
  "oversize-claim",
  "gzip",
] as const;
export type BodyKind = (typeof BODY_KINDS)[number];

/** A generated request, in terms fast-check prints readably; {@link toWire} makes its bytes. */
export interface RequestSpec {
  path: string;
  query: "" | "?junk=1" | "connect-get";
  httpMethod: "POST" | "GET" | "PUT";
  contentType: string | undefined;
  directive: string;
  body: BodyKind;
  /** Random bytes (for `random`, `garbage-in-envelope`) or where to cut (`truncated`). */
  noise: number[];
  auth: "none" | "malformed" | "unknown" | "gateway" | "router" | "admin" | "lowercase-bearer-router";
  requestId: "none" | "valid" | "invalid" | "too-long";
  grpcTimeout: string | undefined;
  connectTimeout: string | undefined;
  grpcAcceptEncoding: string | undefined;
  acceptEncoding: string | undefined;
  /** A request encoding header sent whatever the body is (`gzip` body kinds set their own). */
  encodingHeader: { name: string; value: string } | undefined;
  te: boolean;
  connectProtocolVersion: string | undefined;
  origin: "none" | "allowed" | "other";
  extra: [string, string][];
  contentLength: "exact" | "absent" | "short" | "long";
}

export const SENT_REQUEST_ID = "req-42.a:b_c";
const isEnveloped = (type: string) => /^application\/(grpc|connect\+)/i.test(type);

/** The body bytes of `spec` for `target`, and the encoding header a properly compressed body needs. */
function bodyOf(spec: RequestSpec, target: Target): { body: Buffer; encoding?: [string, string] } {
  const type = spec.contentType ?? "";
  const json = /json/i.test(type);
  const enveloped = isEnveloped(type);
  const frame = (message: Buffer, flags = 0) => (enveloped ? envelope(message, flags) : message);
  const directiveFor = spec.body === "invalid-utf8" ? `ok-${UTF8_MARKER}` : spec.directive;
  const message = encodeRequest(target, directiveFor, json);
  const noise = Buffer.from(spec.noise);
  switch (spec.body) {
    case "valid":
      return { body: frame(message) };
    case "unknown-field":
      return {
        body: frame(
          json ? withJsonKey(message, "bogusField", 1) : Buffer.concat([message, unknownBinaryField(3)]),
        ),
      };
    case "unknown-enum":
      // Only ListSnapshots has an enum: a name it does not define in JSON, a number it does not (open enum) in binary.
      return {
        body: frame(
          json
            ? withJsonKey(message, "type", "CONVERSATION_TYPE_BOGUS")
            : encodeRequest(target, directiveFor, false, 99),
        ),
      };
    case "invalid-utf8":
      return { body: frame(breakUtf8(message)) };
    case "random":
      return { body: noise };
    case "garbage-in-envelope":
      return { body: frame(noise) };
    case "truncated": {
      const whole = frame(message);
      return { body: whole.subarray(0, whole.length === 0 ? 0 : (spec.noise[0] ?? 0) % whole.length) };
    }
    case "two-envelopes":
      return { body: Buffer.concat([frame(message), frame(message)]) };
    case "compressed-flag":
      return { body: frame(message, 1) };
    case "empty":
      return { body: Buffer.alloc(0) };
    case "oversize": {
      const pad = LIMITS.maxRequestBytes + 100;
      return {
        body: frame(
          json
            ? Buffer.concat([message, Buffer.alloc(pad, 0x20)])
            : Buffer.concat([message, unknownBinaryField(pad)]),
        ),
      };
    }
    case "oversize-claim":
      return { body: enveloped ? envelope(message, 0, 1_000_000) : frame(message) };
    case "gzip": {
      const compressed = gzip(message);
      if (!enveloped) return { body: compressed, encoding: ["content-encoding", "gzip"] };
      const name = type.toLowerCase().startsWith("application/connect+")
        ? "connect-content-encoding"
        : "grpc-encoding";
      return { body: envelope(compressed, 1), encoding: [name, "gzip"] };
    }
  }
}

const AUTHORIZATION: Record<RequestSpec["auth"], string | undefined> = {
  none: undefined,
  malformed: "Basic Z2F0ZXdheTpzZWNyZXQ=",
  unknown: "Bearer unknown-token-0123456789",
  gateway: `Bearer ${TOKENS.gateway}`,
  router: `Bearer ${TOKENS.router}`,
  admin: `Bearer ${TOKENS.admin}`,
  "lowercase-bearer-router": `bearer ${TOKENS.router}`,
};

const REQUEST_IDS: Record<RequestSpec["requestId"], string | undefined> = {
  none: undefined,
  valid: SENT_REQUEST_ID,
  invalid: "bad id with spaces",
  "too-long": "r".repeat(129),
};

/** The exact bytes and headers `spec` stands for. */
export function toWire(spec: RequestSpec, target: Target): WireRequest {
  const { body, encoding } = bodyOf(spec, target);
  const headers: Record<string, string> = {};
  const set = (name: string, value: string | undefined) => {
    if (value !== undefined) headers[name] = value;
  };
  set("content-type", spec.contentType);
  set("authorization", AUTHORIZATION[spec.auth]);
  set("x-request-id", REQUEST_IDS[spec.requestId]);
  set("grpc-timeout", spec.grpcTimeout);
  set("connect-timeout-ms", spec.connectTimeout);
  set("grpc-accept-encoding", spec.grpcAcceptEncoding);
  set("accept-encoding", spec.acceptEncoding);
  if (spec.encodingHeader) set(spec.encodingHeader.name, spec.encodingHeader.value);
  if (encoding) set(encoding[0], encoding[1]);
  if (spec.te) set("te", "trailers");
  set("connect-protocol-version", spec.connectProtocolVersion);
  if (spec.origin !== "none")
    set("origin", spec.origin === "allowed" ? ALLOWED_ORIGIN : "https://evil.example.com");
  for (const [name, value] of spec.extra) headers[name] = value;
  const lengths = {
    exact: body.length,
    absent: undefined,
    short: Math.max(0, body.length - 1),
    long: body.length + 1,
  };
  const length = lengths[spec.contentLength];
  if (length !== undefined) headers["content-length"] = String(length);
  const query =
    spec.query === "connect-get"
      ? `?connect=v1&encoding=json&message=${encodeURIComponent(encodeRequest(target, spec.directive, true).toString())}`
      : spec.query;
  return { method: spec.httpMethod, path: spec.path + query, headers, body };
}

/** The deadlines of the generator that Connect accepts (the others are malformed or above the maximum). */
const VALID_DEADLINES = new Set(["2S", "3000m", "5S", "2000000u", "2000", "5000", "4999"]);

/** Whether the token of `spec` may call the method of `target` (the health service needs none). */
function admitted(spec: RequestSpec, target: Target): boolean {
  const method = target.method!;
  if (method.parent.typeName.startsWith("grpc.health.")) return true;
  const role = spec.auth === "lowercase-bearer-router" ? "router" : spec.auth;
  const service = method.parent.name === "RegistryService" ? "registry" : "sequence";
  return ACCESS[service][method.name]?.includes(role as Role) ?? false;
}

/**
 * Whether the lean path serves `spec` itself (true: rpc_lean_calls_total +1), leaves it to
 * connectNodeAdapter by its headers (false: +0), or either (undefined, not asserted). The lean path
 * takes a call by its headers (HTTP/2, POST, no query, a unary method it has, one of the four content
 * types exactly, identity request encodings, no origin); it then hands to Connect, uncounted, a call
 * whose deadline header Connect refuses and a body it does not take (bad framing, too big, not
 * decodable, a content-length that lies): those are left unasserted here, and only the comparison of
 * answers speaks for them.
 */
export function leanEligible(spec: RequestSpec, target: Target, http2: boolean): boolean | undefined {
  const wire = toWire(spec, target);
  const encodings = ["content-encoding", "grpc-encoding", "connect-content-encoding"];
  const taken =
    http2 &&
    spec.httpMethod === "POST" &&
    spec.query === "" &&
    target.kind === "unary" &&
    LEAN_CONTENT_TYPES.includes(spec.contentType ?? "") &&
    encodings.every((name) => wire.headers[name] === undefined || wire.headers[name] === "identity") &&
    spec.origin === "none";
  if (!taken) return false;
  const deadline = spec.contentType!.startsWith("application/grpc") ? spec.grpcTimeout : spec.connectTimeout;
  if (deadline !== undefined && !VALID_DEADLINES.has(deadline)) return undefined;
  // A refused call is answered from its headers, whatever its body.
  if (!admitted(spec, target)) return true;
  const clean = spec.body === "valid" && (spec.contentLength === "exact" || spec.contentLength === "absent");
  return clean ? true : undefined;
}

/** A coarse name of the case `spec` exercises, for counting distinct cases covered. */
export function caseKey(spec: RequestSpec, target: Target): string {
  const timeout = (value: string | undefined) =>
    value === undefined ? "-" : /^(\d+[HMSmun]|\d+)$/.test(value) ? "n" : "x";
  return [
    target.kind,
    spec.contentType ?? "no-type",
    spec.httpMethod,
    spec.query || "no-query",
    spec.body,
    spec.directive.split("-")[0],
    spec.auth,
    spec.requestId,
    `${timeout(spec.grpcTimeout)}${timeout(spec.connectTimeout)}`,
    `${spec.grpcAcceptEncoding ?? "-"}/${spec.acceptEncoding ?? "-"}`,
    spec.encodingHeader ? `${spec.encodingHeader.name}=${spec.encodingHeader.value}` : "-",
    spec.origin,
    spec.contentLength,
  ].join("|");
}
