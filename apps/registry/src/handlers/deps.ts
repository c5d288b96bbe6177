import type { EtcdRegistryStore } from "@im-core/stores/etcd";
import type { RegistryMirror } from "../mirror.js";

/** What the handlers run on; server.ts builds it, tests may build their own. */
export interface RegistryDeps {
  store: EtcdRegistryStore;
  /** The watch-fed copy lookups are answered from, and the shared feed of Watch streams. */
  mirror: RegistryMirror;
  /** Aborts when the server starts draining: Watch streams end on it. */
  draining: AbortSignal;
  limits?: Partial<RegistryLimits>;
  /** Told each time a Watch stream is cut off for falling behind (a metric). */
  onWatchLag?: () => void;
}

export interface RegistryLimits {
  /** Undelivered events a Watch stream may fall behind before it is ended with RESOURCE_EXHAUSTED. */
  maxWatchBacklog: number;
}

// The number of open streams is capped by service-kit's stream limit interceptor (MAX_WATCH_STREAMS).
export const DEFAULT_LIMITS: RegistryLimits = { maxWatchBacklog: 10_000 };

/** Most user IDs in one BatchLookup or Watch (DESIGN.md). */
export const MAX_USERS_PER_CALL = 1_000;
/** Longest lease a gateway may ask for: one day. */
export const MAX_TTL_SECONDS = 86_400;
