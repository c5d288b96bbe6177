import type { ConnectRouter } from "@connectrpc/connect";
import { RegistryService } from "@im-core/proto";

export interface RegistryRouteDeps {
  /** Aborts when the server starts draining: Watch streams end on it. */
  draining: AbortSignal;
}

/** Registers the registry's RPCs. Methods not implemented yet answer UNIMPLEMENTED. */
export function registryRoutes(_deps: RegistryRouteDeps) {
  return (router: ConnectRouter) => {
    router.service(RegistryService, {});
  };
}
