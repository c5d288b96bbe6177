import { RegistryService } from "@im-core/proto";
import {
  createServiceServer,
  type Logger,
  type ReadinessCheck,
  type ServerSettings,
} from "@im-core/service-kit";
import { registryAccess } from "./access.js";
import type { RegistryDeps } from "./handlers/index.js";
import { registryRoutes } from "./routes.js";

export interface RegistryServerDeps extends Omit<RegistryDeps, "draining"> {
  logger: Logger;
  readiness: readonly ReadinessCheck[];
  /** Auth, TLS, CORS and limits from `loadServerSettings()`; tests may leave it out. */
  settings?: Partial<ServerSettings>;
}

/** Builds the registry's server from its dependencies; main.ts decides what they are. */
export function createRegistryServer({ logger, readiness, settings, ...deps }: RegistryServerDeps) {
  return createServiceServer({
    service: RegistryService,
    accessPolicy: registryAccess,
    logger,
    readiness,
    ...(settings ? { settings } : {}),
    routes: (router, { draining }) => registryRoutes({ ...deps, draining })(router),
  });
}
