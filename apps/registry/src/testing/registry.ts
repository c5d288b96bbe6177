import { randomBytes } from "node:crypto";
import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { RegistryService } from "@im-core/proto";
// The built entry (dist), not ../entry.ts: the service runs as compiled, like in production.
import { registryEntry } from "@im-core/registry/entry";
import { createLogger, ServiceMetrics, type TokenTable, useNodeTextEncoding } from "@im-core/service-kit";
import type { EtcdRegistryStore } from "@im-core/stores/etcd";
import { type EtcdServer, type ServiceProcess, startEtcd, startService } from "@im-core/testkit";
import { forFile } from "@im-core/testkit/vitest";
import { afterAll } from "vitest";
import { openRegistryBackends, type RegistryMirror } from "../backends.js";
import { loadRegistryConfig, type RegistryConfig } from "../config.js";
import type { DeviceRegistrar } from "../devices/registrar.js";
import { createRegistryServer } from "../server.js";

export interface TestRegistry {
  readonly url: string;
  readonly store: EtcdRegistryStore;
  readonly registrar: DeviceRegistrar;
  readonly mirror: RegistryMirror;
  /** Prometheus text of the instance's `GET /metrics`. */
  metrics(): Promise<string>;
  /** gRPC over h2c, as gateways and routers call it. */
  readonly client: Client<typeof RegistryService>;
  /** Connect JSON over HTTP/1.1, as a browser calls it. */
  readonly jsonClient: Client<typeof RegistryService>;
  close(): Promise<void>;
}

export interface TestRegistryOptions extends Partial<Omit<RegistryConfig, "etcdEndpoints">> {
  endpoints: readonly string[];
  /** Without one, each instance gets a key root of its own, so tests can share one etcd. */
  keyRoot?: string;
  /** Longest one etcd call may take (the production default is 5 s). */
  callTimeoutMs?: number;
  /** Tokens callers must present (default: open access). */
  tokens?: TokenTable;
}

/**
 * A registry instance on a free port, wired as production wires it (openRegistryBackends, the server with
 * its defaults), with open access. Instances given the same `keyRoot` share state, like replicas of one
 * deployment.
 */
export async function startTestRegistry(options: TestRegistryOptions): Promise<TestRegistry> {
  useNodeTextEncoding(); // as main.ts does
  const { endpoints, keyRoot, callTimeoutMs, tokens, ...overrides } = options;
  const config: RegistryConfig = { ...loadRegistryConfig({}), etcdEndpoints: [...endpoints], ...overrides };
  const metrics = new ServiceMetrics(RegistryService.typeName);
  const backends = openRegistryBackends(config, createLogger("registry-test", "silent"), {
    metrics,
    store: {
      keyRoot: keyRoot ?? `/t/${randomBytes(6).toString("hex")}/`,
      ...(callTimeoutMs ? { callTimeoutMs } : {}),
    },
  });
  await backends.mirror.ready(AbortSignal.timeout(10_000));
  const server = createRegistryServer({
    logger: createLogger("registry-test", "silent"),
    backends,
    metrics,
    // A stream blocked on a client that does not read would hold a close for the whole default grace.
    settings: { shutdownGraceMs: 1_000, ...(tokens ? { tokens } : {}) },
  });
  const address = await server.listen(0, "127.0.0.1");
  const url = `http://127.0.0.1:${address.port}`;
  return {
    url,
    store: backends.store,
    registrar: backends.registrar,
    mirror: backends.mirror,
    metrics: () => fetch(`${url}/metrics`).then((r) => r.text()),
    client: createClient(RegistryService, createGrpcTransport({ baseUrl: url })),
    jsonClient: createClient(RegistryService, createConnectTransport({ baseUrl: url, httpVersion: "1.1" })),
    async close() {
      await server.close();
      backends.close();
    },
  };
}

/**
 * One etcd for a test file and the registries started on it (each with its own key root unless
 * given one); all of them stop when the file ends.
 */
export function registriesOnOneEtcd() {
  const started: TestRegistry[] = [];
  const etcd = forFile(startEtcd, (server) => server.dispose());
  // Registered after the etcd's: runs before it, so no registry outlives its etcd.
  afterAll(() => Promise.all(started.map((r) => r.close())));
  return {
    get etcd(): EtcdServer {
      return etcd();
    },
    registry: async (options: Partial<TestRegistryOptions> = {}): Promise<TestRegistry> => {
      const instance = await startTestRegistry({ endpoints: etcd().endpoints, ...options });
      started.push(instance);
      return instance;
    },
  };
}

/** The name of the code a call failed with, "OK" when it succeeded. */
export async function codeOf(call: Promise<unknown>): Promise<string> {
  try {
    await call;
    return "OK";
  } catch (error) {
    return Code[ConnectError.from(error).code];
  }
}

/** "user/device@gateway" per device of a Lookup or BatchLookup answer. */
export const devicesOf = (response: {
  devices: { userId: string; deviceId: string; gatewayNode: string }[];
}) => response.devices.map((d) => `${d.userId}/${d.deviceId}@${d.gatewayNode}`);

/**
 * The built registry as a process of its own (build it first) on an etcd of its own, for a test file that
 * stops, restarts or kills it, or watches its memory. `env` adds to open access and a short drain.
 */
export function registryProcess(env: Record<string, string> = {}) {
  const running = forFile(
    async () => {
      const etcd = await startEtcd();
      const service = await startService({
        entry: registryEntry,
        env: {
          ETCD_ENDPOINTS: etcd.endpoints.join(","),
          AUTH_DISABLED: "true",
          SHUTDOWN_GRACE_MS: "500",
          ...env,
        },
      });
      return { etcd, service };
    },
    async ({ etcd, service }) => {
      await service.dispose();
      await etcd.dispose();
    },
  );
  return {
    get etcd(): EtcdServer {
      return running().etcd;
    },
    get service(): ServiceProcess {
      return running().service;
    },
  };
}
