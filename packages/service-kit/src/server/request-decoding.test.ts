import { isUtf8 } from "node:buffer";
import http2 from "node:http2";
import { fromBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { ConversationType, LookupRequestSchema, RegistryService, SequenceService } from "@im-core/proto";
import { grpcFrame, http2Exchange } from "@im-core/testkit";
import fc from "fast-check";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createLogger } from "../logger.js";
import { firstInvalidUtf8 } from "./request-decoding.js";
import { createServiceServer, type ServiceServer } from "./service-server.js";

describe("firstInvalidUtf8", () => {
  it("finds where a lenient decoder would first write U+FFFD, and nothing in UTF-8", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 24 }),
          fc.string({ unit: "binary", maxLength: 12 }).map((s) => new Uint8Array(Buffer.from(s))),
        ),
        (bytes) => {
          const at = firstInvalidUtf8(bytes);
          expect(at === -1).toBe(isUtf8(bytes));
          if (at === -1) return;
          const before = Buffer.from(bytes.subarray(0, at));
          expect(isUtf8(before)).toBe(true);
          const lenient = Buffer.from(bytes).toString("utf8");
          expect(lenient.startsWith(before.toString("utf8"))).toBe(true);
          expect(lenient[before.toString("utf8").length]).toBe("\ufffd");
        },
      ),
      { numRuns: 2_000 },
    );
  });
});

// ---- A server of both services with handlers that only count their calls ----

let calls: unknown[] = [];
let server: ServiceServer;
let baseUrl: string;
let session: http2.ClientHttp2Session;

beforeAll(async () => {
  server = createServiceServer({
    service: RegistryService,
    accessPolicy: {},
    logger: createLogger("test", "silent"),
    readiness: [],
    settings: { shutdownGraceMs: 500 },
    routes: (router) => {
      router.service(RegistryService, {
        lookup: (request) => {
          calls.push(request.userId);
          return { devices: [], revision: 1n };
        },
        async *watch(request) {
          calls.push(request.userIds);
          yield { events: [], revision: 1n };
        },
      });
      router.service(SequenceService, {
        listSnapshots: (request) => {
          calls.push(request.type);
          return { snapshots: [], nextPageToken: "" };
        },
      });
    },
  });
  const { port } = await server.listen(0, "127.0.0.1");
  baseUrl = `http://127.0.0.1:${port}`;
  session = http2.connect(baseUrl);
});
afterAll(async () => {
  session?.close();
  await server?.close();
});
beforeEach(() => {
  calls = [];
});

// ---- Raw requests over each protocol, and the code each one answered ----

interface Raw {
  status: number;
  headers: Record<string, string>;
  trailers: Record<string, string>;
  body: Buffer;
}

async function overHttp1(path: string, headers: Record<string, string>, body?: Buffer): Promise<Raw> {
  const response = await fetch(`${baseUrl}${path}`, {
    method: body ? "POST" : "GET",
    headers,
    ...(body ? { body } : {}),
  });
  return {
    status: response.status,
    headers: Object.fromEntries(response.headers),
    trailers: {},
    body: Buffer.from(await response.arrayBuffer()),
  };
}

function overHttp2(path: string, headers: Record<string, string>, body?: Buffer): Promise<Raw> {
  return http2Exchange(session, path, headers, body) as Promise<Raw>;
}

function* frames(body: Buffer): Generator<{ flags: number; data: Buffer }> {
  for (let at = 0; at + 5 <= body.length; ) {
    const length = body.readUInt32BE(at + 1);
    yield { flags: body[at]!, data: body.subarray(at + 5, at + 5 + length) };
    at += 5 + length;
  }
}

const codeOfName = (name: string) =>
  Code[name.replace(/(^|_)([a-z])/g, (_, _sep, c: string) => c.toUpperCase()) as keyof typeof Code];

interface Outcome {
  code: Code | 0;
  message: string;
}

function grpcOutcome(fields: Record<string, string>): Outcome {
  return {
    code: Number(fields["grpc-status"]) as Code,
    message: decodeURIComponent(fields["grpc-message"] ?? ""),
  };
}

interface Protocol {
  name: string;
  json: boolean;
  send(path: string, message: Buffer): Promise<Outcome>;
}

function connectOutcome(raw: Raw): Outcome {
  if (raw.status === 200) return { code: 0, message: "" };
  const error = JSON.parse(raw.body.toString()) as { code: string; message: string };
  return { code: codeOfName(error.code), message: error.message };
}

const connectUnary =
  (http: typeof overHttp1, json: boolean): Protocol["send"] =>
  async (path, message) =>
    connectOutcome(
      await http(path, { "content-type": json ? "application/json" : "application/proto" }, message),
    );

const grpcLike =
  (http: typeof overHttp1, contentType: string): Protocol["send"] =>
  async (path, message) => {
    const headers = { "content-type": contentType, ...(http === overHttp2 ? { te: "trailers" } : {}) };
    const raw = await http(path, headers, grpcFrame(message));
    if (raw.trailers["grpc-status"] ?? raw.headers["grpc-status"])
      return grpcOutcome({ ...raw.headers, ...raw.trailers });
    // gRPC-Web: the trailers are the body's last frame.
    for (const frame of frames(raw.body)) {
      if (frame.flags & 0x80) {
        const lines = frame.data.toString().split("\r\n").filter(Boolean);
        return grpcOutcome(
          Object.fromEntries(lines.map((line) => line.split(/:\s*/, 2) as [string, string])),
        );
      }
    }
    throw new Error(`no status in ${JSON.stringify(raw)}`);
  };

const protocols: Protocol[] = [
  { name: "Connect JSON over HTTP/1.1", json: true, send: connectUnary(overHttp1, true) },
  { name: "Connect JSON over HTTP/2", json: true, send: connectUnary(overHttp2, true) },
  { name: "Connect binary over HTTP/1.1", json: false, send: connectUnary(overHttp1, false) },
  { name: "Connect binary over HTTP/2", json: false, send: connectUnary(overHttp2, false) },
  { name: "gRPC", json: false, send: grpcLike(overHttp2, "application/grpc") },
  { name: "gRPC JSON", json: true, send: grpcLike(overHttp2, "application/grpc+json") },
  { name: "gRPC-Web over HTTP/1.1", json: false, send: grpcLike(overHttp1, "application/grpc-web+proto") },
  { name: "gRPC-Web JSON over HTTP/2", json: true, send: grpcLike(overHttp2, "application/grpc-web+json") },
];

const lookup = "/im.registry.v1.RegistryService/Lookup";

/** A LookupRequest whose user_id is `id`, as raw bytes in the protocol's encoding. */
function lookupRequest(json: boolean, id: Uint8Array): Buffer {
  if (json) return Buffer.concat([Buffer.from('{"userId":"'), id, Buffer.from('"}')]);
  const length: number[] = [];
  for (let n = id.length; ; n >>>= 7) {
    if (n < 0x80) {
      length.push(n);
      break;
    }
    length.push((n & 0x7f) | 0x80);
  }
  return Buffer.concat([Buffer.from([0x0a, ...length]), id]);
}

/** Text with a piece that is not UTF-8 somewhere in it (JSON-safe text around it). */
const notUtf8 = fc
  .tuple(
    fc.string({ unit: "grapheme", maxLength: 6 }),
    fc.uint8Array({ minLength: 1, maxLength: 12 }).filter((bytes) => !isUtf8(bytes)),
    fc.string({ unit: "grapheme", maxLength: 6 }),
  )
  .map(([before, bad, after]) =>
    Buffer.concat([Buffer.from(before.replace(/["\\]/g, "")), bad, Buffer.from(after.replace(/["\\]/g, ""))]),
  )
  .filter((bytes) => !isUtf8(bytes));

function bodyFails(bytes: Uint8Array): boolean {
  try {
    fromBinary(LookupRequestSchema, bytes);
    return false;
  } catch {
    return true;
  }
}

describe.each(protocols)("$name", ({ json, send }) => {
  it("serves a well-formed request, non-ASCII IDs included", async () => {
    expect(await send(lookup, lookupRequest(json, Buffer.from("Gé🙂")))).toEqual({ code: 0, message: "" });
    expect(calls).toEqual(["Gé🙂"]);
  });

  it("answers INVALID_ARGUMENT, naming the problem, to any string that is not UTF-8; the handler never runs", async () => {
    await fc.assert(
      fc.asyncProperty(notUtf8, async (id) => {
        const outcome = await send(lookup, lookupRequest(json, id));
        expect(outcome.code).toBe(Code.InvalidArgument);
        expect(outcome.message).toMatch(/utf-8/i);
      }),
      { numRuns: 40 },
    );
    expect(calls).toEqual([]);
  });
});

describe.each(protocols.filter((protocol) => !protocol.json))("$name", ({ send }) => {
  it("answers INVALID_ARGUMENT to a body that is not protobuf; the handler never runs", async () => {
    const valid = lookupRequest(false, Buffer.from("some-user"));
    const truncated = fc.integer({ min: 1, max: valid.length - 1 }).map((n) => valid.subarray(0, n));
    const garbage = fc.uint8Array({ minLength: 1, maxLength: 48 }).map((bytes) => Buffer.from(bytes));
    await fc.assert(
      fc.asyncProperty(fc.oneof(truncated, garbage).filter(bodyFails), async (body) => {
        const outcome = await send(lookup, body);
        expect(outcome.code).toBe(Code.InvalidArgument);
        expect(outcome.message).toMatch(/^parse binary: /);
      }),
      { numRuns: 40 },
    );
    expect(calls).toEqual([]);
  });
});

describe("Connect JSON: names and keys the schema does not define", () => {
  const listSnapshots = "/im.sequence.v1.SequenceService/ListSnapshots";
  const names = Object.keys(ConversationType).filter((key) => Number.isNaN(Number(key)));
  const post = (body: string) => connectUnary(overHttp1, true)(listSnapshots, Buffer.from(body));

  it("reads a known enum name", async () => {
    expect(await post('{"type":"CONVERSATION_TYPE_GROUP"}')).toEqual({ code: 0, message: "" });
    expect(calls).toEqual([ConversationType.GROUP]);
  });

  it("refuses any other enum name instead of dropping it (which read as 'no filter')", async () => {
    const known = new Set(names.map((name) => `CONVERSATION_TYPE_${name}`));
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.constantFrom("BOGUS", "GROUP", "conversation_type_group", ""), fc.string()),
        async (name) => {
          fc.pre(!known.has(name));
          const outcome = await post(JSON.stringify({ type: name }));
          expect(outcome.code).toBe(Code.InvalidArgument);
          expect(outcome.message).toContain("im.sequence.v1.ConversationType");
        },
      ),
      { numRuns: 40 },
    );
    expect(calls).toEqual([]);
  });

  it("refuses a key the request message does not have", async () => {
    const outcome = await post('{"pageSize":1,"bogus":1}');
    expect(outcome).toEqual({ code: Code.InvalidArgument, message: expect.stringContaining('"bogus"') });
    expect(calls).toEqual([]);
  });
});

describe("a Connect stream (Watch) over JSON", () => {
  it("ends with INVALID_ARGUMENT when its request is not UTF-8; the handler never runs", async () => {
    await fc.assert(
      fc.asyncProperty(notUtf8, async (id) => {
        const message = Buffer.concat([Buffer.from('{"userIds":["'), id, Buffer.from('"]}')]);
        const raw = await overHttp1(
          "/im.registry.v1.RegistryService/Watch",
          { "content-type": "application/connect+json" },
          grpcFrame(message),
        );
        const last = [...frames(raw.body)].at(-1)!;
        expect(last.flags).toBe(2);
        expect(JSON.parse(last.data.toString())).toMatchObject({
          error: { code: "invalid_argument", message: expect.stringMatching(/UTF-8/) },
        });
      }),
      { numRuns: 20 },
    );
    expect(calls).toEqual([]);
  });
});

describe("Connect GET (Lookup has no side effects)", () => {
  const get = async (query: string) => connectOutcome(await overHttp1(`${lookup}?${query}`, {}));
  const percentEncoded = (bytes: Uint8Array) =>
    [...bytes].map((b) => `%${b.toString(16).padStart(2, "0")}`).join("");

  it("serves a query that is UTF-8 once percent-decoded", async () => {
    const message = percentEncoded(lookupRequest(true, Buffer.from("Gé")));
    expect(await get(`encoding=json&message=${message}`)).toEqual({ code: 0, message: "" });
    expect(calls).toEqual(["Gé"]);
  });

  it("refuses one that is not, instead of reading U+FFFD", async () => {
    expect(
      await get(`encoding=json&message=${percentEncoded(lookupRequest(true, Buffer.from([0x47, 0xe9])))}`),
    ).toEqual({
      code: Code.InvalidArgument,
      message: 'query parameter "message" is not valid UTF-8 once percent-decoded',
    });
    // Connect parses the query before any interceptor runs: bytes that also break the JSON (a control
    // character) are refused for that first. INVALID_ARGUMENT either way.
    await fc.assert(
      fc.asyncProperty(notUtf8, async (id) => {
        const outcome = await get(`encoding=json&message=${percentEncoded(lookupRequest(true, id))}`);
        expect(outcome.code).toBe(Code.InvalidArgument);
      }),
      { numRuns: 20 },
    );
    expect(calls).toEqual([]);
  });
});
