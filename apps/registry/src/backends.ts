import { type Logger, RateLimiter, type ReadinessCheck, type ServiceMetrics } from "@im-core/service-kit";
import { EtcdRegistryStore, type EtcdRegistryStoreOptions } from "@im-core/stores/etcd";
import { DeviceMirror } from "@im-core/stores/mirror";
import type { RegistryConfig } from "./config.js";
import { DeviceRegistrar } from "./devices/registrar.js";
import { registryMetrics } from "./metrics.js";
import { type MirrorView, mirrorViews } from "./mirror-view.js";

/** The registry's mirror: each entry kept as its `DeviceLocation`, built once when the entry is applied. */
export type RegistryMirror = DeviceMirror<MirrorView>;

export interface RegistryBackends {
  readonly store: EtcdRegistryStore;
  readonly registrar: DeviceRegistrar;
  readonly mirror: RegistryMirror;
  readonly watchBacklog: number;
  /** Told each time a Watch stream is cut off for falling behind. */
  readonly onWatchLag: () => void;
  readonly readiness: readonly ReadinessCheck[];
  close(): void;
}

export interface RegistryBackendOptions {
  /** Where the mirror's gauges and the lagging Watch streams are counted: the registry the server serves. */
  metrics: ServiceMetrics;
  /** What only tests change: a key root of their own, shorter deadlines. */
  store?: Partial<Omit<EtcdRegistryStoreOptions, "endpoints">>;
}

/**
 * The registry's backends as production runs them: the etcd store, the device rules over it, and the
 * mirror that follows it (started, not awaited: until it is live, lookups read etcd). Tests call this
 * same function.
 */
export function openRegistryBackends(
  config: RegistryConfig,
  logger: Logger,
  options: RegistryBackendOptions,
): RegistryBackends {
  const etcd = new EtcdRegistryStore({ endpoints: config.etcdEndpoints, ...options.store });
  const registrar = new DeviceRegistrar(
    etcd,
    { maxDevices: config.maxDevices, policy: config.devicePolicy, defaultTtlSeconds: config.ttlSeconds },
    new RateLimiter(config.leaseGrantRate, config.leaseGrantRate * 10),
  );
  const mirror: RegistryMirror = new DeviceMirror(etcd, {
    // Lookup and BatchLookup answer these ready-to-send messages without building anything per call.
    view: mirrorViews(),
    // Watch streams fed by the mirror and those fed by their own etcd watch share one limit.
    maxSubscriberBacklog: config.watchBacklog,
    onError: (error) => logger.warn({ err: error }, "registry mirror reloading"),
  });
  void mirror.start();
  const { watchLagged } = registryMetrics(options.metrics, mirror);
  return {
    store: etcd,
    registrar,
    mirror,
    watchBacklog: config.watchBacklog,
    onWatchLag: watchLagged,
    readiness: [
      {
        name: "etcd",
        check: async (signal) => void (await etcd.currentRevision({ signal })),
        // The same read over a client of its own: see ReadinessCheck.fresh.
        async fresh(signal) {
          const probe = new EtcdRegistryStore({ endpoints: config.etcdEndpoints, callTimeoutMs: 1_000 });
          try {
            await probe.currentRevision({ signal });
          } finally {
            probe.close();
          }
        },
      },
    ],
    close() {
      mirror.close();
      etcd.close();
    },
  };
}
