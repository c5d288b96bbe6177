import { envEnum, envHost, envInt, envPort, envUrlList, parseEnv } from "@im-core/service-kit";
import { DEFAULT_SUBSCRIBER_BACKLOG } from "@im-core/stores/mirror";

/** The registry's environment (docs/operations.md lists every variable). */
export function loadRegistryConfig(env: NodeJS.ProcessEnv = process.env) {
  const vars = parseEnv(
    {
      HOST: envHost(),
      PORT: envPort(8081),
      ETCD_ENDPOINTS: envUrlList("http://127.0.0.1:2379", ["http:", "https:"]),
      REGISTRY_TTL_SECONDS: envInt(90, 1, 86_400),
      REGISTRY_MAX_DEVICES: envInt(5, 1, 1_000),
      REGISTRY_DEVICE_POLICY: envEnum(["reject", "evict_oldest"], "reject"),
      // Undelivered events a Watch stream may fall behind before it ends with RESOURCE_EXHAUSTED.
      REGISTRY_WATCH_BACKLOG: envInt(DEFAULT_SUBSCRIBER_BACKLOG, 100, 1_000_000),
      // Leases (GrantLease, or Register without one) a gateway token may be granted per second; ten
      // seconds' worth may come at once.
      REGISTRY_LEASE_GRANT_RATE: envInt(100, 1, 1_000_000),
    },
    env,
  );
  return {
    host: vars.HOST,
    port: vars.PORT,
    etcdEndpoints: vars.ETCD_ENDPOINTS,
    ttlSeconds: vars.REGISTRY_TTL_SECONDS,
    maxDevices: vars.REGISTRY_MAX_DEVICES,
    devicePolicy: vars.REGISTRY_DEVICE_POLICY,
    watchBacklog: vars.REGISTRY_WATCH_BACKLOG,
    leaseGrantRate: vars.REGISTRY_LEASE_GRANT_RATE,
  };
}

export type RegistryConfig = ReturnType<typeof loadRegistryConfig>;
