import http2 from "node:http2";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createHandlerContext } from "@connectrpc/connect";
import {
  LookupRequestSchema,
  RegisterRequestSchema,
  RegistryService,
  WatchRequestSchema,
  type WatchResponse,
} from "@im-core/proto";
import { describe, expect, it } from "vitest";
import { registryHandlers } from "./handlers/index.js";
import { codeOf, devicesOf, registriesOnOneEtcd } from "./testing/registry.js";

const backend = registriesOnOneEtcd();
const registry = backend.registry;

async function messageOf(call: Promise<unknown>): Promise<string> {
  try {
    await call;
    return "";
  } catch (error) {
    return ConnectError.from(error).rawMessage;
  }
}

describe.concurrent("registry RPCs over gRPC and Connect", () => {
  it("Register, Lookup, a move to another gateway, Unregister", async () => {
    const { client } = await registry();
    const registered = await client.register({
      userId: "alice",
      deviceId: "phone",
      gatewayNode: "gw-a:9000",
    });
    expect(registered.leaseId).toBeGreaterThan(0n);
    expect(registered.ttlSeconds).toBe(90); // REGISTRY_TTL_SECONDS's default
    expect(registered.connectedAt).toBeDefined();
    expect(devicesOf(await client.lookup({ userId: "alice" }))).toEqual(["alice/phone@gw-a:9000"]);
    await client.register({ userId: "alice", deviceId: "phone", gatewayNode: "gw-b:9000" });
    const moved = await client.lookup({ userId: "alice" });
    expect(devicesOf(moved)).toEqual(["alice/phone@gw-b:9000"]);
    expect(moved.revision).toBeGreaterThan(0n);
    expect(
      await client.unregister({ userId: "alice", deviceId: "phone", gatewayNode: "gw-a:9000" }),
    ).toMatchObject({
      removed: false,
    });
    expect(
      await client.unregister({ userId: "alice", deviceId: "phone", gatewayNode: "gw-b:9000" }),
    ).toMatchObject({
      removed: true,
    });
    expect((await client.lookup({ userId: "alice" })).devices).toEqual([]);
  });

  it("GrantLease, Register on the shared lease, Renew, RevokeLease", async () => {
    const { client } = await registry();
    const { leaseId, ttlSeconds } = await client.grantLease({ gatewayNode: "gw", ttlSeconds: 20 });
    expect(ttlSeconds).toBe(20);
    await client.register({ userId: "u1", deviceId: "d", gatewayNode: "gw", leaseId });
    await client.register({ userId: "u2", deviceId: "d", gatewayNode: "gw", leaseId });
    expect((await client.renew({ leaseId })).ttlSeconds).toBeGreaterThan(0);
    const both = await client.batchLookup({ userIds: ["u1", "u2", "u1", "nobody"] });
    expect(devicesOf(both)).toEqual(["u1/d@gw", "u2/d@gw"]);
    await client.revokeLease({ leaseId });
    expect((await client.batchLookup({ userIds: ["u1", "u2"] })).devices).toEqual([]);
    expect(await codeOf(client.renew({ leaseId }))).toBe("NotFound");
    expect(await codeOf(client.revokeLease({ leaseId }))).toBe("NotFound");
    expect(await codeOf(client.register({ userId: "u1", deviceId: "d", gatewayNode: "gw", leaseId }))).toBe(
      "NotFound",
    );
  });

  it("answers RESOURCE_EXHAUSTED beyond the device limit, and evicts with evict_oldest", async () => {
    const reject = await registry({ maxDevices: 1 });
    await reject.client.register({ userId: "u", deviceId: "1", gatewayNode: "gw" });
    expect(await codeOf(reject.client.register({ userId: "u", deviceId: "2", gatewayNode: "gw" }))).toBe(
      "ResourceExhausted",
    );
    const evict = await registry({ maxDevices: 1, devicePolicy: "evict_oldest" });
    await evict.client.register({ userId: "u", deviceId: "1", gatewayNode: "gw" });
    const second = await evict.client.register({ userId: "u", deviceId: "2", gatewayNode: "gw-2" });
    expect(second.evicted.map((d) => `${d.userId}/${d.deviceId}@${d.gatewayNode}`)).toEqual(["u/1@gw"]);
    expect(devicesOf(await evict.client.lookup({ userId: "u" }))).toEqual(["u/2@gw-2"]);
  });

  it("rejects bad input with INVALID_ARGUMENT naming the field, changing nothing", async () => {
    const { client } = await registry();
    const cases: [Promise<unknown>, string][] = [
      [client.register({ userId: "", deviceId: "d", gatewayNode: "gw" }), "user_id: must not be empty"],
      [client.register({ userId: "u", deviceId: "a\nb", gatewayNode: "gw" }), "device_id: must not contain"],
      [client.register({ userId: "u", deviceId: "d", gatewayNode: "" }), "gateway_node: must not be empty"],
      [
        client.register({ userId: "x".repeat(257), deviceId: "d", gatewayNode: "gw" }),
        "user_id: must be at most 256",
      ],
      [client.register({ userId: "u", deviceId: "d", gatewayNode: "gw", leaseId: -5n }), "lease_id:"],
      [client.grantLease({ gatewayNode: "gw", ttlSeconds: 86_401 }), "ttl_seconds:"],
      [client.grantLease({ gatewayNode: "gw", ttlSeconds: -1 }), "ttl_seconds:"],
      [client.renew({ leaseId: 0n }), "lease_id:"],
      [client.revokeLease({ leaseId: 0n }), "lease_id:"],
      [client.unregister({ userId: "u", deviceId: "" }), "device_id: must not be empty"],
      [client.lookup({ userId: "\u0000" }), "user_id: must not contain"],
      [
        client.batchLookup({ userIds: Array.from({ length: 1001 }, (_, i) => `u${i}`) }),
        "user_ids: at most 1000",
      ],
      [client.batchLookup({ userIds: ["ok", ""] }), "user_ids[1]: must not be empty"],
    ];
    for (const [call, message] of cases) {
      expect(await codeOf(call)).toBe("InvalidArgument");
      expect(await messageOf(call)).toContain(message);
    }
    const drain = async () => {
      for await (const _ of client.watch({ userIds: ["a\u0007"] })) break;
    };
    expect(await codeOf(drain())).toBe("InvalidArgument");
    expect((await client.lookup({ userId: "u" })).devices).toEqual([]);
  });

  it("serves browsers: Connect JSON over HTTP/1.1, Watch included", async () => {
    const { jsonClient } = await registry();
    await jsonClient.register({ userId: "b", deviceId: "d", gatewayNode: "gw" });
    expect(devicesOf(await jsonClient.lookup({ userId: "b" }))).toEqual(["b/d@gw"]);
    const abort = new AbortController();
    const stream = jsonClient.watch({ userIds: ["b"] }, { signal: abort.signal })[Symbol.asyncIterator]();
    const first = (await stream.next()).value as WatchResponse;
    expect(first.events).toEqual([]);
    await jsonClient.unregister({ userId: "b", deviceId: "d" });
    const next = (await stream.next()).value as WatchResponse;
    expect(next.events.map((e) => `${e.type} ${e.location?.deviceId}`)).toEqual(["2 d"]);
    abort.abort();
  });

  it("lone surrogates: rejected over Connect JSON, turned into U+FFFD by gRPC clients before they are sent", async () => {
    const { url, client, store, registrar, mirror } = await registry();
    const post = (method: string, contentType: string, body: string | Buffer) =>
      fetch(`${url}/im.registry.v1.RegistryService/${method}`, {
        method: "POST",
        headers: { "content-type": contentType },
        body,
      });
    // A browser's JSON may carry the escape `\ud800`: protobuf-es refuses to decode it (no UTF-8 form).
    for (const [method, body] of [
      ["Lookup", String.raw`{"userId":"\ud800"}`],
      ["Register", String.raw`{"userId":"u","deviceId":"\ud800","gatewayNode":"gw"}`],
      ["BatchLookup", String.raw`{"user_ids":["ok","x\udc00"]}`],
    ]) {
      const response = await post(method!, "application/json", body!);
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ code: "invalid_argument", message: /invalid UTF8/ });
    }
    // A stream answers HTTP 200 and carries the error in its end-of-stream message (the Connect protocol):
    // that, not a missed check, is why a Watch with `"user_ids":["\ud800"]` could look accepted.
    const json = Buffer.from(String.raw`{"user_ids":["\ud800"]}`);
    const watch = await post(
      "Watch",
      "application/connect+json",
      Buffer.concat([Buffer.from([0, 0, 0, 0, json.length]), json]),
    );
    expect(watch.status).toBe(200);
    const frame = Buffer.from(await watch.arrayBuffer());
    expect(frame[0]).toBe(2); // end-of-stream flag
    expect(JSON.parse(frame.subarray(5).toString())).toMatchObject({ error: { code: "invalid_argument" } });

    // A JavaScript client cannot even send one: UTF-8 encoding (protobuf-es, TextEncoder) replaces it with
    // U+FFFD, a valid ID. What reaches the store is that replacement, under its own key.
    await client.register({ userId: "\ud800", deviceId: "d\udfff", gatewayNode: "gw" });
    expect(devicesOf(await client.lookup({ userId: "\ufffd" }))).toEqual(["\ufffd/d\ufffd@gw"]);
    expect(devicesOf(await client.lookup({ userId: "\ud800" }))).toEqual(["\ufffd/d\ufffd@gw"]);
    const literal = await post(
      "Register",
      "application/json",
      '{"userId":"\ud800x","deviceId":"d","gatewayNode":"gw"}',
    );
    expect(literal.status).toBe(200);
    const stored = (await store.snapshot()).entries.map((e) => e.userId).sort();
    expect(stored).toEqual(["\ufffd", "\ufffdx"]);
    for (const id of stored) expect(/\p{Cs}/u.test(id)).toBe(false);

    // Raw gRPC bytes that are not UTF-8 (a CESU-8 surrogate) fail in protobuf-es's decoder before any
    // handler runs: INVALID_ARGUMENT (our patch of Connect; it answered INTERNAL), and nothing changes.
    const session = http2.connect(url);
    const message = Buffer.from([0x0a, 3, 0xed, 0xa0, 0x80]); // RegisterRequest.user_id
    const request = session.request({
      ":method": "POST",
      ":path": "/im.registry.v1.RegistryService/Register",
      "content-type": "application/grpc",
      te: "trailers",
    });
    request.end(Buffer.concat([Buffer.from([0, 0, 0, 0, message.length]), message]));
    request.resume();
    const trailers = await new Promise<http2.IncomingHttpHeaders>((resolve) =>
      request.once("trailers", resolve),
    );
    expect(trailers["grpc-status"]).toBe(String(Code.InvalidArgument));
    expect(decodeURIComponent(String(trailers["grpc-message"]))).toMatch(/not valid for encoding utf-8/);
    session.close();
    expect((await store.snapshot()).entries).toHaveLength(2);

    // Should a decoder ever let one through, the handlers' own validation rejects it, Watch included.
    const handlers = registryHandlers({
      store,
      registrar,
      mirror,
      watchBacklog: 100,
      draining: new AbortController().signal,
      onWatchLag: () => {},
    });
    const context = (method: string) =>
      createHandlerContext({
        service: RegistryService,
        method: RegistryService.method[method as keyof typeof RegistryService.method],
        protocolName: "test",
        requestMethod: "POST",
        url: url,
      });
    const lone = "\ud800";
    const calls: [string, () => unknown][] = [
      ["lookup", () => handlers.lookup(create(LookupRequestSchema, { userId: lone }), context("lookup"))],
      [
        "register",
        () =>
          handlers.register(
            create(RegisterRequestSchema, { userId: "u", deviceId: lone, gatewayNode: "gw" }),
            context("register"),
          ),
      ],
      [
        "watch",
        async () => {
          for await (const _ of handlers.watch(
            create(WatchRequestSchema, { userIds: [lone] }),
            context("watch"),
          ))
            break;
        },
      ],
    ];
    for (const [name, call] of calls) {
      expect(await codeOf(Promise.resolve().then(call)), name).toBe("InvalidArgument");
      expect(await messageOf(Promise.resolve().then(call)), name).toMatch(/lone surrogate/);
    }
  });

  it("exposes the registry's gauges on GET /metrics", async () => {
    const instance = await registry();
    await instance.client.register({ userId: "m", deviceId: "d1", gatewayNode: "gw" });
    await instance.client.register({ userId: "m", deviceId: "d2", gatewayNode: "gw" });
    await instance.client.lookup({ userId: "m" }); // waits for the mirror to apply this instance's writes
    const text = await instance.metrics();
    const value = (name: string) => Number(text.match(new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, "m"))?.[1]);
    expect(value("registry_mirror_entries")).toBe(2);
    expect(value("registry_mirror_revision")).toBe(instance.mirror.revision);
    expect(value("registry_mirror_live")).toBe(1);
    expect(value("registry_watch_subscribers")).toBe(0);
    expect(value("registry_watch_queued_events")).toBe(0);
    expect(value("registry_watch_lagged_total")).toBe(0);
    expect(text).toContain("# HELP registry_mirror_entries ");
  });
});
