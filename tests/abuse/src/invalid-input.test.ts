import http2 from "node:http2";
import { create, toBinary } from "@bufbuild/protobuf";
import { LookupRequestSchema, NextRequestSchema, RegisterRequestSchema } from "@im-core/proto";
import { etcdJson, grpcFrame, http2Exchange } from "@im-core/testkit";
import { beforeAll, describe, expect, it } from "vitest";
import { abuseStack, bearer, tokens } from "./testing/stack.js";

/**
 * Requests whose bytes are not what they claim: raw bytes that are not UTF-8 in IDs (which a lenient
 * decoder turns into U+FFFD, so that `G\xe9`, `G\xe8` and `G\xff` would share one counter and one etcd
 * key), protobuf bodies that do not decode, enum names the proto does not define. Each must answer
 * INVALID_ARGUMENT (not INTERNAL, not OK) and store nothing.
 */

const stack = abuseStack();
const REGISTRY = "/im.registry.v1.RegistryService";
const SEQUENCE = "/im.sequence.v1.SequenceService";
const notUtf8 = [0xe9, 0xe8, 0xff];
const ids = notUtf8.map((byte) => Buffer.from([0x47, byte])); // "G" then the byte

interface Answer {
  /** The RPC code's name as Connect spells it in JSON (`invalid_argument`), "ok" when it succeeded. */
  code: string;
  message: string;
}

/** A JSON body with `id` spliced in as raw bytes where the template says `ID`. */
const jsonWith = (template: string, id: Buffer) => {
  const [before, after] = template.split("ID") as [string, string];
  return Buffer.concat([Buffer.from(before), id, Buffer.from(after)]);
};

/** A protobuf body with the placeholder "G?" (an ID) replaced by `id` of the same length. */
const binaryWith = (message: Uint8Array, id: Buffer) => {
  const bytes = Buffer.from(message);
  const at = bytes.indexOf("G?");
  expect(at).toBeGreaterThanOrEqual(0);
  id.copy(bytes, at);
  return bytes;
};

/** Connect unary over HTTP/1.1. */
async function connectHttp1(url: string, path: string, token: string, contentType: string, body: Buffer) {
  const response = await fetch(`${url}${path}`, {
    method: "POST",
    headers: { "content-type": contentType, ...bearer(token) },
    body,
  });
  const text = await response.text();
  if (response.ok) return { code: "ok", message: "" };
  return JSON.parse(text) as Answer;
}

/** One request over HTTP/2 (cleartext, prior knowledge): status, headers, trailers and body. */
async function http2Call(url: string, path: string, headers: http2.OutgoingHttpHeaders, body: Buffer) {
  const session = http2.connect(url);
  session.on("error", () => {}); // the session's streams fail with its error, and so does the request
  try {
    return await http2Exchange(session, path, headers, body);
  } finally {
    session.close();
  }
}

/** Connect JSON unary over HTTP/2. */
async function connectHttp2(url: string, path: string, token: string, body: Buffer): Promise<Answer> {
  const response = await http2Call(url, path, { "content-type": "application/json", ...bearer(token) }, body);
  if (response.status === 200) return { code: "ok", message: "" };
  return JSON.parse(response.body.toString()) as Answer;
}

const grpcCodes: Record<string, string> = { "0": "ok", "3": "invalid_argument", "13": "internal" };

/** gRPC over HTTP/2 with `message` as the one enveloped request. */
async function grpc(url: string, path: string, token: string, message: Buffer): Promise<Answer> {
  const response = await http2Call(
    url,
    path,
    { "content-type": "application/grpc", te: "trailers", ...bearer(token) },
    grpcFrame(message),
  );
  const status = String(response.trailers["grpc-status"] ?? response.headers["grpc-status"]);
  return {
    code: grpcCodes[status] ?? `grpc-status ${status}`,
    message: decodeURIComponent(
      String(response.trailers["grpc-message"] ?? response.headers["grpc-message"]),
    ),
  };
}

/** Every key, value and version under the registry's etcd (it has this etcd to itself). */
async function etcdContents(): Promise<unknown> {
  const all = Buffer.from([0]).toString("base64");
  const { kvs } = await etcdJson<{ kvs?: { key: string; value: string; mod_revision: string }[] }>(
    stack.servers.etcd.endpoints[0]!,
    "/v3/kv/range",
    { key: all, range_end: all },
  );
  return (kvs ?? []).map(({ key, value, mod_revision }) => ({
    key: Buffer.from(key, "base64").toString("latin1"),
    value,
    mod_revision,
  }));
}

describe("requests that do not decode: INVALID_ARGUMENT, and nothing stored", () => {
  const group = (value: string) => ({ conversation: { kind: { case: "groupId" as const, value } } });
  let etcdBefore: unknown;

  beforeAll(async () => {
    const { registry, sequence } = stack.clients();
    // A conversation and a registration that the attacks must leave as they are.
    expect((await sequence.next(group("valid-group"))).first).toBe(1n);
    await registry.register({ userId: "valid-user", deviceId: "d", gatewayNode: "gw-1:9000" });
    etcdBefore = await etcdContents();
    expect(JSON.stringify(etcdBefore)).toContain("valid-user");
  });

  it("raw bytes that are not UTF-8 in Connect JSON IDs (HTTP/1.1 and HTTP/2)", async () => {
    const { sequence, registry } = stack.servers;
    const answers: Answer[] = [];
    for (const id of ids) {
      const next = jsonWith('{"conversation":{"groupId":"ID"},"count":5}', id);
      answers.push(
        await connectHttp1(sequence.url, `${SEQUENCE}/Next`, tokens.gateway, "application/json", next),
      );
      answers.push(await connectHttp2(sequence.url, `${SEQUENCE}/Next`, tokens.gateway, next));
      const register = jsonWith('{"userId":"ID","deviceId":"d","gatewayNode":"gw-1:9000"}', id);
      answers.push(
        await connectHttp1(
          registry.url,
          `${REGISTRY}/Register`,
          tokens.gateway,
          "application/json",
          register,
        ),
      );
      answers.push(await connectHttp2(registry.url, `${REGISTRY}/Register`, tokens.gateway, register));
      const lookup = jsonWith('{"userId":"ID"}', id);
      answers.push(
        await connectHttp1(registry.url, `${REGISTRY}/Lookup`, tokens.gateway, "application/json", lookup),
      );
    }
    expect(answers).toHaveLength(15);
    for (const answer of answers) {
      expect(answer).toEqual({ code: "invalid_argument", message: expect.stringMatching(/not valid UTF-8/) });
    }
  });

  it("a string field that is not UTF-8 over gRPC binary and Connect binary", async () => {
    const { sequence, registry } = stack.servers;
    const next = toBinary(NextRequestSchema, create(NextRequestSchema, group("G?")));
    const register = toBinary(
      RegisterRequestSchema,
      create(RegisterRequestSchema, { userId: "G?", deviceId: "d", gatewayNode: "gw-1:9000" }),
    );
    const lookup = toBinary(LookupRequestSchema, create(LookupRequestSchema, { userId: "G?" }));
    for (const id of ids) {
      for (const answer of [
        await grpc(sequence.url, `${SEQUENCE}/Next`, tokens.gateway, binaryWith(next, id)),
        await grpc(registry.url, `${REGISTRY}/Register`, tokens.gateway, binaryWith(register, id)),
        await grpc(registry.url, `${REGISTRY}/Lookup`, tokens.gateway, binaryWith(lookup, id)),
        await connectHttp1(
          sequence.url,
          `${SEQUENCE}/Next`,
          tokens.gateway,
          "application/proto",
          binaryWith(next, id),
        ),
      ]) {
        expect(answer).toEqual({ code: "invalid_argument", message: expect.stringMatching(/utf-8/i) });
      }
    }
  });

  it("a truncated or garbage protobuf body", async () => {
    const { sequence, registry } = stack.servers;
    const register = Buffer.from(
      toBinary(
        RegisterRequestSchema,
        create(RegisterRequestSchema, { userId: "u", deviceId: "d", gatewayNode: "gw-1:9000" }),
      ),
    );
    const garbage = Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]);
    const answers = [
      await grpc(
        registry.url,
        `${REGISTRY}/Register`,
        tokens.gateway,
        register.subarray(0, register.length - 3),
      ),
      await grpc(sequence.url, `${SEQUENCE}/Next`, tokens.gateway, garbage),
      await grpc(sequence.url, `${SEQUENCE}/Next`, tokens.gateway, Buffer.from([0x0f, 0x00])),
      await connectHttp1(registry.url, `${REGISTRY}/Register`, tokens.gateway, "application/proto", garbage),
    ];
    for (const answer of answers) {
      expect(answer).toEqual({ code: "invalid_argument", message: expect.stringMatching(/^parse binary: /) });
    }
  });

  it("an enum name the proto does not define (ListSnapshots, admin)", async () => {
    const { sequence } = stack.servers;
    const listSnapshots = (body: string) =>
      connectHttp1(
        sequence.url,
        `${SEQUENCE}/ListSnapshots`,
        tokens.admin,
        "application/json",
        Buffer.from(body),
      );
    expect(await listSnapshots('{"type":"BOGUS"}')).toEqual({
      code: "invalid_argument",
      message: 'cannot decode enum im.sequence.v1.ConversationType from JSON: "BOGUS"',
    });
    expect(await listSnapshots('{"type":12345}')).toEqual({
      code: "invalid_argument",
      message: "type: unknown conversation type 12345",
    });
    expect(await listSnapshots('{"type":"CONVERSATION_TYPE_GROUP"}')).toEqual({ code: "ok", message: "" });
  });

  it("left every stored thing as it was", async () => {
    const { registry, sequence } = stack.clients();
    expect((await sequence.current(group("valid-group"))).sequence).toBe(1n);
    // What a lenient decoder would have made of every one of the IDs above.
    expect((await sequence.current(group("G\ufffd"))).sequence).toBe(0n);
    expect((await registry.lookup({ userId: "G\ufffd" })).devices).toEqual([]);
    expect((await registry.lookup({ userId: "valid-user" })).devices.map((d) => d.deviceId)).toEqual(["d"]);
    expect(await etcdContents()).toEqual(etcdBefore);
    // MySQL holds a ceiling for the valid conversation only.
    const response = await fetch(`${stack.servers.sequence.url}${SEQUENCE}/ListSnapshots`, {
      method: "POST",
      headers: { "content-type": "application/json", ...bearer(tokens.admin) },
      body: "{}",
    });
    const { snapshots } = (await response.json()) as { snapshots: { conversation: unknown }[] };
    expect(snapshots.map((snapshot) => snapshot.conversation)).toEqual([{ groupId: "valid-group" }]);
  });
});
