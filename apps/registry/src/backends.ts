import type { Logger, ReadinessCheck } from "@im-core/service-kit";
import { EtcdRegistryStore } from "@im-core/stores/etcd";
import type { RegistryConfig } from "./config.js";
import { registryMirror } from "./mirror.js";

/** The registry's backends: the etcd store and the mirror that follows it, started and ready to serve. */
export async function openBackends(config: RegistryConfig, logger: Logger) {
  const store = new EtcdRegistryStore({
    endpoints: config.etcdEndpoints,
    defaultTtlSeconds: config.ttlSeconds,
    maxDevices: config.maxDevices,
    devicePolicy: config.devicePolicy,
  });
  const mirror = registryMirror(store, {
    // Watch streams fed by the mirror and those fed by their own etcd watch share one limit.
    maxSubscriberBacklog: config.watchBacklog,
    onError: (error) => logger.warn({ err: error }, "registry mirror reloading"),
  });
  // Serving does not wait for the mirror: until it is live, lookups read etcd directly.
  void mirror.start();
  const readiness: ReadinessCheck = {
    name: "etcd",
    async check(signal: AbortSignal) {
      await store.currentRevision({ signal });
    },
  };
  return {
    store,
    mirror,
    limits: { maxWatchBacklog: config.watchBacklog },
    readiness: [readiness],
    close() {
      mirror.close();
      store.close();
    },
  };
}
