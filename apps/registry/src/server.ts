import { RegistryService } from "@im-core/proto";
import {
  createServiceServer,
  type Logger,
  type ServerSettings,
  type ServiceMetrics,
} from "@im-core/service-kit";
import { registryAccess } from "./access.js";
import type { RegistryBackends } from "./backends.js";
import { registryRoutes } from "./routes.js";

export interface RegistryServerDeps {
  logger: Logger;
  backends: RegistryBackends;
  /** The registry `/metrics` serves: the one the backends count into (see main.ts). */
  metrics: ServiceMetrics;
  /** Auth, TLS, CORS and limits from `loadServerSettings()`; tests may leave it out. */
  settings?: Partial<ServerSettings>;
}

/** Builds the registry's server from its dependencies; main.ts decides what they are. */
export function createRegistryServer({ logger, backends, metrics, settings }: RegistryServerDeps) {
  return createServiceServer({
    service: RegistryService,
    accessPolicy: registryAccess,
    logger,
    readiness: backends.readiness,
    metrics,
    ...(settings ? { settings } : {}),
    routes: (router, { draining }) => registryRoutes({ ...backends, draining })(router),
  });
}
