import type { ConnectRouter } from "@connectrpc/connect";
import { RegistryService } from "@im-core/proto";
import { type RegistryDeps, registryHandlers } from "./handlers/index.js";

/** Registers the registry's RPCs. */
export function registryRoutes(deps: RegistryDeps) {
  return (router: ConnectRouter) => {
    router.service(RegistryService, registryHandlers(deps));
  };
}
