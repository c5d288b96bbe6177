import http2 from "node:http2";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { RegistryService, WatchRequestSchema } from "@im-core/proto";
import { Health, HealthCheckResponse_ServingStatus } from "@im-core/proto/grpc/health/v1";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TokenTable } from "../security/tokens.js";
import { backend, gatewayToken, routerToken, startTestServer } from "../testing/test-server.js";
import { selfSignedCertificate } from "../testing/tls.js";
import type { ServiceServer } from "./service-server.js";

const start = startTestServer;
const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

describe("who may call what", () => {
  let server: ServiceServer;
  let client: ReturnType<typeof createClient<typeof RegistryService>>;
  let baseUrl: string;
  beforeAll(async () => {
    ({ server, baseUrl } = await start({
      tokens: new TokenTable([
        { token: gatewayToken, role: "gateway", gatewayNodes: "any" },
        { token: routerToken, role: "router" },
      ]),
    }));
    client = createClient(RegistryService, createGrpcTransport({ baseUrl }));
  });
  afterAll(() => server.close());

  it("refuses a call without a token (UNAUTHENTICATED)", async () => {
    await expect(client.lookup({ userId: "u" })).rejects.toMatchObject({ code: Code.Unauthenticated });
  });

  it("refuses an unknown token (UNAUTHENTICATED)", async () => {
    await expect(client.lookup({ userId: "u" }, bearer("not-a-known-token-at-all"))).rejects.toMatchObject({
      code: Code.Unauthenticated,
    });
  });

  it("refuses a role the method does not allow (PERMISSION_DENIED)", async () => {
    await expect(
      client.register({ userId: "u", deviceId: "d", gatewayNode: "g" }, bearer(routerToken)),
    ).rejects.toMatchObject({
      code: Code.PermissionDenied,
      rawMessage: 'role "router" may not call Register',
    });
  });

  it("lets an allowed role through", async () => {
    await expect(client.lookup({ userId: "u" }, bearer(routerToken))).resolves.toMatchObject({
      revision: 1n,
    });
    await expect(
      client.register({ userId: "u", deviceId: "d", gatewayNode: "g" }, bearer(gatewayToken)),
    ).resolves.toMatchObject({ leaseId: 1n });
  });

  it("keeps health, readiness and metrics open", async () => {
    for (const probe of ["/healthz", "/readyz", "/metrics"]) {
      expect((await fetch(`${baseUrl}${probe}`)).status).toBe(200);
    }
    const health = createClient(Health, createGrpcTransport({ baseUrl }));
    await expect(health.check({})).resolves.toMatchObject({
      status: HealthCheckResponse_ServingStatus.SERVING,
    });
  });
});

describe("limits", () => {
  let server: ServiceServer;
  let baseUrl: string;
  let client: ReturnType<typeof createClient<typeof RegistryService>>;
  beforeAll(async () => {
    ({ server, baseUrl } = await start({
      maxRequestBytes: 1024,
      defaultCallTimeoutMs: 200,
      maxCallTimeoutMs: 60_000,
      maxStreams: 2,
      streamStallTimeoutMs: 300,
    }));
    client = createClient(RegistryService, createGrpcTransport({ baseUrl }));
  });
  afterAll(() => server.close());

  it("refuses a request above MAX_REQUEST_BYTES (RESOURCE_EXHAUSTED)", async () => {
    await expect(client.lookup({ userId: "x".repeat(2_000) })).rejects.toMatchObject({
      code: Code.ResourceExhausted,
    });
  });

  it("ends a call that outlives the default deadline (DEADLINE_EXCEEDED)", async () => {
    const started = Date.now();
    await expect(client.lookup({ userId: "hang" })).rejects.toMatchObject({ code: Code.DeadlineExceeded });
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it("honours a shorter client deadline and refuses one above the maximum", async () => {
    await expect(client.lookup({ userId: "hang" }, { timeoutMs: 50 })).rejects.toMatchObject({
      code: Code.DeadlineExceeded,
    });
    await expect(client.lookup({ userId: "u" }, { timeoutMs: 120_000 })).rejects.toMatchObject({
      code: Code.InvalidArgument,
    });
  });

  it("caps concurrent streams (RESOURCE_EXHAUSTED) and frees a slot when one ends", async () => {
    const controllers = [new AbortController(), new AbortController()];
    const open = controllers.map((controller) =>
      client.watch({}, { signal: controller.signal })[Symbol.asyncIterator](),
    );
    await Promise.all(open.map((stream) => stream.next()));
    const third = client.watch({})[Symbol.asyncIterator]();
    await expect(third.next()).rejects.toMatchObject({ code: Code.ResourceExhausted });
    controllers[0]!.abort();
    await expect(open[0]!.next()).rejects.toMatchObject({ code: Code.Canceled });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const fourth = client.watch({}, { signal: controllers[1]!.signal })[Symbol.asyncIterator]();
    await expect(fourth.next()).resolves.toMatchObject({ done: false });
    controllers[1]!.abort();
  });

  it("resets a stream whose client stopped reading, freeing its slot", async () => {
    const session = http2.connect(baseUrl);
    const body = toBinary(WatchRequestSchema, create(WatchRequestSchema, { userIds: ["flood"] }));
    const frame = Buffer.concat([Buffer.from([0, 0, 0, 0, body.length]), body]);
    const stream = session.request({
      ":method": "POST",
      ":path": "/im.registry.v1.RegistryService/Watch",
      "content-type": "application/grpc",
      te: "trailers",
    });
    stream.end(frame);
    stream.pause(); // never read: the server's writes stop draining
    const started = performance.now();
    const rstCode = await new Promise<number>((resolve) =>
      stream.once("close", () => resolve(stream.rstCode)),
    );
    expect(rstCode).toBe(http2.constants.NGHTTP2_CANCEL);
    expect(performance.now() - started).toBeLessThan(5_000);
    session.destroy();
    const metricsText = await (await fetch(`${baseUrl}/metrics`)).text();
    expect(metricsText).toMatch(/rpc_streams_reset_stalled_total\{[^}]*\} 1/);
    await expect
      .poll(
        async () =>
          (await (await fetch(`${baseUrl}/metrics`)).text()).match(/rpc_open_streams\{[^}]*\} (\d+)/)?.[1],
      )
      .toBe("0");
  });

  it("counts calls by method and code in /metrics", async () => {
    await client.lookup({ userId: "u" });
    // /metrics is rendered at most once a second: a render before this call is served until then.
    const scrape = async () => (await fetch(`${baseUrl}/metrics`)).text();
    await expect
      .poll(scrape, { timeout: 3_000 })
      .toMatch(/rpc_calls_total\{method="Lookup",code="ok",service="im.registry.v1.RegistryService"\} \d+/);
    const text = await scrape();
    expect(text).toMatch(/rpc_calls_total\{method="Lookup",code="deadline_exceeded",service="[^"]+"\} \d+/);
    expect(text).toContain("rpc_duration_seconds_bucket");
  });

  it("reports a backend that is down through gRPC health by its name, the service still SERVING", async () => {
    const health = createClient(Health, createGrpcTransport({ baseUrl }));
    backend.up = false;
    try {
      // Readiness is probed in the background (every second): the next probe sees the backend down.
      await expect
        .poll(async () => (await health.check({ service: "etcd" })).status, { timeout: 3_000 })
        .toBe(HealthCheckResponse_ServingStatus.NOT_SERVING);
      // Every instance shares that outage: this one keeps serving what it can.
      expect((await health.check({ service: "im.registry.v1.RegistryService" })).status).toBe(
        HealthCheckResponse_ServingStatus.SERVING,
      );
    } finally {
      backend.up = true;
    }
    await expect(health.check({ service: "nope" })).rejects.toMatchObject({ code: Code.NotFound });
  });
});

describe("browsers (CORS)", () => {
  let server: ServiceServer;
  let baseUrl: string;
  beforeAll(async () => {
    ({ server, baseUrl } = await start({ corsAllowedOrigins: ["http://admin.test"] }));
  });
  afterAll(() => server.close());

  const preflight = (origin: string) =>
    fetch(`${baseUrl}/im.registry.v1.RegistryService/Lookup`, {
      method: "OPTIONS",
      headers: {
        origin,
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type,connect-protocol-version,authorization",
      },
    });

  it("answers a preflight from an allowed origin with Connect's headers and Authorization", async () => {
    const response = await preflight("http://admin.test");
    expect(response.status).toBe(204);
    expect(response.headers.get("access-control-allow-origin")).toBe("http://admin.test");
    expect(response.headers.get("access-control-allow-headers")).toMatch(
      /Connect-Protocol-Version.*Authorization/i,
    );
  });

  it("gives a disallowed origin no CORS headers", async () => {
    const response = await preflight("http://evil.test");
    expect(response.status).toBe(403);
    expect(response.headers.get("access-control-allow-origin")).toBeNull();
    const simple = await fetch(`${baseUrl}/im.registry.v1.RegistryService/Lookup`, {
      method: "POST",
      headers: { origin: "http://evil.test", "content-type": "application/json" },
      body: "{}",
    });
    expect(simple.headers.get("access-control-allow-origin")).toBeNull();
  });
});

describe("TLS", () => {
  it("serves HTTP/2 (gRPC) and HTTP/1.1 (Connect JSON) on one port through ALPN", async () => {
    const { cert, key } = selfSignedCertificate();
    const { server, baseUrl } = await start({ tls: { cert, key } });
    try {
      const httpsUrl = baseUrl.replace("http:", "https:");
      const grpc = createClient(
        RegistryService,
        createGrpcTransport({ baseUrl: httpsUrl, nodeOptions: { ca: cert } }),
      );
      await expect(grpc.lookup({ userId: "u" })).resolves.toMatchObject({ revision: 1n });
      const connect = createClient(
        RegistryService,
        createConnectTransport({ baseUrl: httpsUrl, httpVersion: "1.1", nodeOptions: { ca: cert } }),
      );
      await expect(connect.lookup({ userId: "u" })).resolves.toMatchObject({ revision: 1n });
    } finally {
      await server.close();
    }
  });
});
