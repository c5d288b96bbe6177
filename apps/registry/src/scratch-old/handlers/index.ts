import type { ServiceImpl } from "@connectrpc/connect";
import type { RegistryService } from "@im-core/proto";
import type { RegistryDeps } from "./deps.js";
import { deviceHandlers } from "./devices.js";
import { leaseHandlers } from "./leases.js";
import { lookupHandlers } from "./lookup.js";
import { watchHandlers } from "./watch.js";

export type { RegistryDeps, RegistryLimits } from "./deps.js";

/** Every RPC of `im.registry.v1.RegistryService`. */
export function registryHandlers(deps: RegistryDeps): ServiceImpl<typeof RegistryService> {
  return {
    ...leaseHandlers(deps),
    ...deviceHandlers(deps),
    ...lookupHandlers(deps),
    ...watchHandlers(deps),
  };
}
