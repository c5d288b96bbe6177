import type { ServiceImpl } from "@connectrpc/connect";
import type { RegistryService } from "@im-core/proto";
import type { EtcdRegistryStore } from "@im-core/stores/etcd";
import type { RegistryMirror } from "../backends.js";
import type { DeviceRegistrar } from "../devices/registrar.js";
import { batchRegisterHandlers } from "./batch-register.js";
import { deviceHandlers } from "./devices.js";
import { leaseHandlers } from "./leases.js";
import { lookupHandlers } from "./lookup.js";
import { watchHandlers } from "./watch.js";

/** What the handlers run on: the backends (backends.ts) and the server's lifecycle (server.ts). */
export interface RegistryDeps {
  store: EtcdRegistryStore;
  /** The device rules (limit, eviction) over the store. */
  registrar: DeviceRegistrar;
  /** The watch-fed copy lookups are answered from, and the shared feed of Watch streams. */
  mirror: RegistryMirror;
  /** Undelivered events a Watch stream may fall behind before it ends with RESOURCE_EXHAUSTED. */
  watchBacklog: number;
  /** Aborts when the server starts draining: Watch streams end on it. */
  draining: AbortSignal;
  /** Told each time a Watch stream is cut off for falling behind (a metric). */
  onWatchLag: () => void;
}

/** Every RPC of `im.registry.v1.RegistryService`. */
export function registryHandlers(deps: RegistryDeps): ServiceImpl<typeof RegistryService> {
  return {
    ...leaseHandlers(deps),
    ...deviceHandlers(deps),
    ...batchRegisterHandlers(deps),
    ...lookupHandlers(deps),
    ...watchHandlers(deps),
  };
}
