import { createServiceServer, type Logger, type ReadinessCheck } from "@im-core/service-kit";
import { registryRoutes } from "./routes.js";

export interface RegistryServerDeps {
  logger: Logger;
  readiness: readonly ReadinessCheck[];
}

/** Builds the registry's server from its dependencies; main.ts decides what they are. */
export function createRegistryServer(deps: RegistryServerDeps) {
  return createServiceServer({
    logger: deps.logger,
    readiness: deps.readiness,
    routes: (router, { draining }) => registryRoutes({ draining })(router),
  });
}
