import { RegistryService } from "@im-core/proto";
import {
  createServiceServer,
  type Logger,
  type ReadinessCheck,
  type ServerSettings,
  ServiceMetrics,
} from "@im-core/service-kit";
import { registryAccess } from "./access.js";
import type { RegistryDeps } from "./handlers/index.js";
import type { RegistryMirror } from "./mirror.js";
import { registryRoutes } from "./routes.js";

export interface RegistryServerDeps extends Omit<RegistryDeps, "draining" | "onWatchLag"> {
  logger: Logger;
  readiness: readonly ReadinessCheck[];
  /** Auth, TLS, CORS and limits from `loadServerSettings()`; tests may leave it out. */
  settings?: Partial<ServerSettings>;
}

/** Builds the registry's server from its dependencies; main.ts decides what they are. */
export function createRegistryServer({ logger, readiness, settings, ...deps }: RegistryServerDeps) {
  const metrics = new ServiceMetrics(RegistryService.typeName);
  const lagged = registryMetrics(metrics, deps.mirror);
  return createServiceServer({
    service: RegistryService,
    accessPolicy: registryAccess,
    logger,
    readiness,
    metrics,
    ...(settings ? { settings } : {}),
    routes: (router, { draining }) =>
      registryRoutes({ ...deps, draining, onWatchLag: () => lagged.inc() })(router),
  });
}

/**
 * The registry's own metrics, next to service-kit's RPC ones on the same `/metrics`: the mirror's
 * size, progress and health (is lookup served from memory, and how far has it got), and how often a
 * Watch stream was cut off for not reading fast enough. Gauges are read at scrape time.
 */
function registryMetrics(metrics: ServiceMetrics, mirror: RegistryMirror) {
  metrics.gauge(
    "registry_mirror_entries",
    "Device entries held by this instance's mirror.",
    () => mirror.stats().entries,
  );
  metrics.gauge("registry_mirror_revision", "etcd revision the mirror has applied.", () => mirror.revision);
  metrics.gauge(
    "registry_mirror_live",
    "1 while the mirror is loaded and its etcd watch connected (lookups served from memory), else 0.",
    () => (mirror.live ? 1 : 0),
  );
  metrics.gauge(
    "registry_watch_subscribers",
    "Watch streams fed by the mirror.",
    () => mirror.stats().subscribers,
  );
  metrics.gauge(
    "registry_watch_queued_events",
    "Events queued for Watch streams, not yet taken by their writers (bounded per stream).",
    () => mirror.stats().queuedEvents,
  );
  return metrics.counter(
    "registry_watch_lagged_total",
    "Watch streams ended with RESOURCE_EXHAUSTED because the client fell too far behind.",
  );
}
