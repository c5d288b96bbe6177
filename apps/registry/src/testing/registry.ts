import { randomBytes } from "node:crypto";
import { type Client, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { RegistryService } from "@im-core/proto";
import { createLogger } from "@im-core/service-kit";
import { EtcdRegistryStore, type EtcdRegistryStoreOptions } from "@im-core/stores/etcd";
import { type EtcdServer, startEtcd } from "@im-core/testkit";
import { afterAll, beforeAll } from "vitest";
import type { RegistryLimits } from "../handlers/index.js";
import { type RegistryMirror, registryMirror } from "../mirror.js";
import { createRegistryServer } from "../server.js";

export interface TestRegistry {
  readonly url: string;
  readonly store: EtcdRegistryStore;
  readonly mirror: RegistryMirror;
  /** Prometheus text of the instance's `GET /metrics`. */
  metrics(): Promise<string>;
  /** gRPC over h2c, as gateways and routers call it. */
  readonly client: Client<typeof RegistryService>;
  /** Connect JSON over HTTP/1.1, as a browser calls it. */
  readonly jsonClient: Client<typeof RegistryService>;
  close(): Promise<void>;
}

export interface TestRegistryOptions extends Partial<EtcdRegistryStoreOptions> {
  endpoints: readonly string[];
  limits?: Partial<RegistryLimits>;
}

/**
 * A registry instance on a free port with the real server stack (open access, default limits). Without
 * `keyRoot`, each instance gets a key root of its own so tests can share one etcd; instances given the
 * same root share state, like replicas of one deployment.
 */
export async function startTestRegistry(options: TestRegistryOptions): Promise<TestRegistry> {
  const { limits, ...storeOptions } = options;
  const store = new EtcdRegistryStore({
    defaultTtlSeconds: 60,
    maxDevices: 5,
    devicePolicy: "reject",
    callTimeoutMs: 3_000,
    keyRoot: `/t/${randomBytes(6).toString("hex")}/`,
    ...storeOptions,
  });
  // Watch streams fed by the mirror are bounded by the mirror's backlog: the same limit for both paths.
  const mirror = registryMirror(
    store,
    limits?.maxWatchBacklog ? { maxSubscriberBacklog: limits.maxWatchBacklog } : {},
  );
  await mirror.start(AbortSignal.timeout(10_000));
  const server = createRegistryServer({
    logger: createLogger("registry-test", "silent"),
    readiness: [],
    store,
    mirror,
    // A stream blocked on a client that does not read would hold a close for the whole default grace.
    settings: { shutdownGraceMs: 1_000 },
    ...(limits ? { limits } : {}),
  });
  const address = await server.listen(0, "127.0.0.1");
  const url = `http://127.0.0.1:${address.port}`;
  return {
    url,
    store,
    mirror,
    metrics: () => fetch(`${url}/metrics`).then((r) => r.text()),
    client: createClient(RegistryService, createGrpcTransport({ baseUrl: url })),
    jsonClient: createClient(RegistryService, createConnectTransport({ baseUrl: url, httpVersion: "1.1" })),
    async close() {
      await server.close();
      mirror.close();
      store.close();
    },
  };
}

/**
 * One etcd for a test file and the registries started on it (each with its own key root unless
 * given one); all of them stop when the file ends.
 */
export function registriesOnOneEtcd() {
  let etcd: EtcdServer | undefined;
  const started: TestRegistry[] = [];
  beforeAll(async () => {
    etcd = await startEtcd();
  });
  afterAll(async () => {
    await Promise.all(started.map((r) => r.close()));
    await etcd?.dispose();
  });
  const running = (): EtcdServer => {
    if (!etcd) throw new Error("etcd is not started yet: call this inside a test");
    return etcd;
  };
  return {
    get etcd(): EtcdServer {
      return running();
    },
    registry: async (options: Partial<TestRegistryOptions> = {}): Promise<TestRegistry> => {
      const instance = await startTestRegistry({ endpoints: running().endpoints, ...options });
      started.push(instance);
      return instance;
    },
  };
}
