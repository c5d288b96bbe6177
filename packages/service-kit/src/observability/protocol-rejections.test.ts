import { Code, ConnectError, createClient } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import { RegistryService } from "@im-core/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TokenTable } from "../security/tokens.js";
import { type ObservedServer, startObservedServer } from "../testing/observed-server.js";

const token = "router-token-0123456789";
const lookupPath = "/im.registry.v1.RegistryService/Lookup";

describe("rpc_calls_total counts calls Connect refused before any interceptor ran", () => {
  let observed: ObservedServer;
  beforeAll(async () => {
    observed = await startObservedServer({
      settings: { maxRequestBytes: 1024, tokens: new TokenTable([{ token, role: "router" }]) },
    });
  });
  afterAll(() => observed.server.close());

  /** The count of (method, code), once the answer was written. */
  const counted = async (method: string, code: string) =>
    (await observed.server.metrics.calls.get()).values.find(
      (value) => value.labels.method === method && value.labels.code === code,
    )?.value ?? 0;
  const post = (path: string, contentType: string, body: string, headers: Record<string, string> = {}) =>
    fetch(`${observed.baseUrl}${path}`, {
      method: "POST",
      headers: { "content-type": contentType, authorization: `Bearer ${token}`, ...headers },
      body,
    });
  const codeOf = (call: Promise<unknown>) =>
    call.then(
      () => "ok",
      (error: unknown) => Code[ConnectError.from(error).code],
    );

  it("a body over MAX_REQUEST_BYTES, over every protocol, as RESOURCE_EXHAUSTED of its method", async () => {
    const request = { userId: "x".repeat(2_000) };
    const options = { headers: { authorization: `Bearer ${token}` } };
    const baseUrl = observed.baseUrl;
    for (const transport of [
      createGrpcTransport({ baseUrl }),
      createGrpcWebTransport({ baseUrl, httpVersion: "1.1" }),
      createConnectTransport({ baseUrl, httpVersion: "1.1" }),
      createConnectTransport({ baseUrl, httpVersion: "2", useBinaryFormat: false }),
    ]) {
      const client = createClient(RegistryService, transport);
      expect(await codeOf(client.lookup(request, options))).toBe("ResourceExhausted");
    }
    await expect.poll(() => counted("Lookup", "resource_exhausted")).toBe(4);
  });

  it("a body that does not parse, a deadline above the maximum: INVALID_ARGUMENT", async () => {
    expect((await post(lookupPath, "application/json", "{not json")).status).toBe(400);
    const tooLong = await post(lookupPath, "application/json", "{}", { "connect-timeout-ms": "700000" });
    expect(await tooLong.json()).toMatchObject({ code: "invalid_argument" });
    await expect.poll(() => counted("Lookup", "invalid_argument")).toBe(2);
  });

  it("an unsupported content type (415) as UNKNOWN, as clients read it", async () => {
    expect((await post(lookupPath, "text/plain", "hello")).status).toBe(415);
    await expect.poll(() => counted("Lookup", "unknown")).toBe(1);
  });

  it('a path that names no method as UNIMPLEMENTED of method "unknown"', async () => {
    expect((await post("/im.registry.v1.RegistryService/Nope", "application/json", "{}")).status).toBe(404);
    expect((await post("/wp-login.php", "application/json", "{}")).status).toBe(404);
    await expect.poll(() => counted("unknown", "unimplemented")).toBe(2);
  });

  it("counts calls the interceptors saw exactly once, refused or not", async () => {
    const client = createClient(RegistryService, createGrpcTransport({ baseUrl: observed.baseUrl }));
    expect(await codeOf(client.lookup({ userId: "u" }))).toBe("Unauthenticated");
    expect(
      await codeOf(client.lookup({ userId: "u" }, { headers: { authorization: `Bearer ${token}` } })),
    ).toBe("ok");
    expect((await post(lookupPath, "application/json", "{}")).status).toBe(200);
    await expect.poll(() => counted("Lookup", "ok")).toBe(2);
    expect(await counted("Lookup", "unauthenticated")).toBe(1);
  });
});
