import http from "node:http";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import { StoreError } from "@im-core/common";
import { DeviceLocationSchema, RegistryService } from "@im-core/proto";
import { Health, HealthCheckResponse_ServingStatus } from "@im-core/proto/grpc/health/v1";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../logger.js";
import { createServiceServer, type ServiceServer } from "./service-server.js";

// A stand-in registry: enough behaviour to tell protocols, errors and shutdown apart.
let backendUp = true;
/** Whether a connection of its own would reach the backend (false: a shared outage). */
let backendUpForOthers = true;
let releaseSlowCall: () => void = () => {};

function startServer() {
  return createServiceServer({
    service: RegistryService,
    accessPolicy: {},
    settings: { shutdownGraceMs: 2_000 },
    logger: createLogger("test", "silent"),
    readiness: [
      {
        name: "backend",
        check: async () => {
          if (!backendUp) throw new Error("connection refused");
        },
        fresh: async () => {
          if (!backendUpForOthers) throw new Error("connection refused");
        },
      },
    ],
    routes: (router, { draining }) =>
      router.service(RegistryService, {
        lookup: async (request) => {
          if (request.userId === "slow") {
            await new Promise<void>((resolve) => {
              releaseSlowCall = resolve;
            });
          }
          if (request.userId === "store-down") {
            throw new StoreError("unavailable", "etcd: no leader");
          }
          if (request.userId === "bug") {
            throw new Error("secret internal detail");
          }
          return {
            devices: [
              create(DeviceLocationSchema, {
                userId: request.userId,
                deviceId: "phone",
                gatewayNode: "gw-1",
                connectedAt: timestampFromDate(new Date(0)),
                leaseId: 7n,
              }),
            ],
            revision: 42n,
          };
        },
        async *watch(_request, context) {
          yield { revision: 1n, events: [] };
          await new Promise<void>((resolve) => {
            draining.addEventListener("abort", () => resolve(), { once: true });
            context.signal.addEventListener("abort", () => resolve(), { once: true });
          });
        },
      }),
  });
}

describe("one port for every protocol", () => {
  let server: ServiceServer;
  let baseUrl: string;

  beforeAll(async () => {
    server = startServer();
    const address = await server.listen(0, "127.0.0.1");
    baseUrl = `http://127.0.0.1:${address.port}`;
  });
  afterAll(() => server.close());

  const transports: Record<string, () => Transport> = {
    "Connect JSON over HTTP/1.1": () =>
      createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: false }),
    "Connect binary over HTTP/1.1": () => createConnectTransport({ baseUrl, httpVersion: "1.1" }),
    "Connect over h2c": () => createConnectTransport({ baseUrl, httpVersion: "2" }),
    "gRPC over h2c": () => createGrpcTransport({ baseUrl }),
    "gRPC-Web over HTTP/1.1": () => createGrpcWebTransport({ baseUrl, httpVersion: "1.1" }),
  };

  for (const [name, transport] of Object.entries(transports)) {
    it(`answers ${name}`, async () => {
      const client = createClient(RegistryService, transport());
      const response = await client.lookup({ userId: "ü/🙂" });
      expect(response.revision).toBe(42n);
      expect(response.devices[0]?.userId).toBe("ü/🙂");
      expect(response.devices[0]?.leaseId).toBe(7n);
      // Store errors keep their meaning; unexpected errors never leak their text.
      await expect(client.lookup({ userId: "store-down" })).rejects.toMatchObject({
        code: Code.Unavailable,
        rawMessage: "etcd: no leader",
      });
      await expect(client.lookup({ userId: "bug" })).rejects.toMatchObject({
        code: Code.Internal,
        rawMessage: "internal error",
      });
    });
  }

  it("answers curl-style JSON POSTs and health probes over HTTP/1.1", async () => {
    const rpc = await fetch(`${baseUrl}/im.registry.v1.RegistryService/Lookup`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ userId: "u1" }),
    });
    expect(rpc.status).toBe(200);
    expect(await rpc.json()).toMatchObject({ devices: [{ userId: "u1", leaseId: "7" }], revision: "42" });
    expect((await fetch(`${baseUrl}/healthz`)).status).toBe(200);
  });

  describe("readiness", () => {
    // Readiness answers the last background probe (one a second): poll until a probe saw the change.
    const readyz = async () => {
      const response = await fetch(`${baseUrl}/readyz`);
      return { status: response.status, body: (await response.json()) as { status?: string } };
    };
    const health = (service: string) =>
      createClient(Health, createGrpcTransport({ baseUrl }))
        .check({ service })
        .then(({ status }) => HealthCheckResponse_ServingStatus[status]);

    it("stays ready, reporting degraded, while a backend every instance shares is down", async () => {
      [backendUp, backendUpForOthers] = [false, false];
      try {
        await expect.poll(readyz, { timeout: 3_000 }).toEqual({
          status: 200,
          body: { ready: true, status: "degraded", checks: { backend: "unavailable: connection refused" } },
        });
        expect(await health("")).toBe("SERVING");
        expect(await health("backend")).toBe("NOT_SERVING");
        // /metrics is rendered at most once a second.
        await expect
          .poll(async () => (await fetch(`${baseUrl}/metrics`)).text(), { timeout: 3_000 })
          .toMatch(/^backend_up\{backend="backend"[^}]*\} 0$/m);
        expect(await (await fetch(`${baseUrl}/metrics`)).text()).toMatch(/^ready\{[^}]*\} 1$/m);
      } finally {
        [backendUp, backendUpForOthers] = [true, true];
      }
      await expect.poll(async () => (await readyz()).body.status, { timeout: 3_000 }).toBe("ok");
      expect(await health("backend")).toBe("SERVING");
    });

    it("turns unready while only its own connection to a backend is broken", async () => {
      backendUp = false; // a connection of its own still gets through
      try {
        await expect.poll(readyz, { timeout: 3_000 }).toEqual({
          status: 503,
          body: {
            ready: false,
            status: "not_ready",
            checks: { backend: "own connection broken: connection refused" },
          },
        });
        expect(await health("")).toBe("NOT_SERVING");
      } finally {
        backendUp = true;
      }
      await expect.poll(async () => (await readyz()).status, { timeout: 3_000 }).toBe(200);
    });
  });
});

describe("graceful shutdown", () => {
  it("answers requests already on their way over idle connections, with connection: close, then closes them well within the grace period", async () => {
    const server = startServer();
    const { port } = await server.listen(0, "127.0.0.1");
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const get = () =>
      new Promise<http.IncomingMessage>((resolve, reject) =>
        http
          .get({ port, path: "/healthz", agent }, (response) =>
            response.resume().on("end", () => resolve(response)),
          )
          .on("error", reject),
      );
    await get(); // the connection is idle now, kept alive
    const h2 = createClient(RegistryService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` }));
    await h2.lookup({ userId: "u" });
    const started = performance.now();
    const closed = server.close();
    // Sent as the server starts draining, on the connection it already had: answered, and told to go.
    const late = await get();
    expect(late.statusCode).toBe(200);
    expect(late.headers.connection).toBe("close");
    await closed;
    const took = performance.now() - started;
    expect(took).toBeLessThan(1_900); // the grace period is 2 s
    agent.destroy();
  });

  it("lets in-flight calls finish, ends streams, refuses new connections", async () => {
    const server = startServer();
    const { port } = await server.listen(0, "127.0.0.1");
    const baseUrl = `http://127.0.0.1:${port}`;
    const client = createClient(RegistryService, createGrpcTransport({ baseUrl }));

    const stream = client.watch({});
    const firstMessage = await stream[Symbol.asyncIterator]().next();
    expect(firstMessage.value?.revision).toBe(1n);
    const slowCall = client.lookup({ userId: "slow" });
    await new Promise((resolve) => setTimeout(resolve, 100));

    const closed = server.close();
    await new Promise((resolve) => setTimeout(resolve, 100));
    releaseSlowCall();
    await expect(slowCall).resolves.toMatchObject({ revision: 42n });
    await closed;

    const fresh = createClient(RegistryService, createConnectTransport({ baseUrl, httpVersion: "1.1" }));
    await expect(fresh.lookup({ userId: "u" })).rejects.toBeInstanceOf(ConnectError);
  });
});
