import type { ServiceMetrics } from "@im-core/service-kit";
import type { RegistryMirror } from "./backends.js";

/**
 * The registry's own metrics, next to service-kit's RPC ones on the same `/metrics`: the mirror's size,
 * progress and health (is lookup served from memory, and how far has it got), and how often a Watch
 * stream was cut off for not reading fast enough. Gauges are read at scrape time.
 */
export function registryMetrics(metrics: ServiceMetrics, mirror: RegistryMirror) {
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
  const lagged = metrics.counter(
    "registry_watch_lagged_total",
    "Watch streams ended with RESOURCE_EXHAUSTED because the client fell too far behind.",
  );
  return { watchLagged: () => lagged.inc() };
}
