import { SequenceService } from "@im-core/proto";
import {
  createServiceServer,
  type Logger,
  type ServerSettings,
  type ServiceMetrics,
} from "@im-core/service-kit";
import { sequenceAccess } from "./access.js";
import type { SequenceBackends } from "./backends.js";
import { sequenceRoutes } from "./routes.js";

export interface SequenceServerDeps {
  logger: Logger;
  backends: SequenceBackends;
  /** The registry `/metrics` serves: the one the backends count into (see main.ts). */
  metrics: ServiceMetrics;
  /** Auth, TLS, CORS and limits from `loadServerSettings()`; tests may leave it out. */
  settings?: Partial<ServerSettings>;
}

/** Builds the sequence service's server from its dependencies; main.ts decides what they are. */
export function createSequenceServer({ logger, backends, metrics, settings }: SequenceServerDeps) {
  return createServiceServer({
    service: SequenceService,
    accessPolicy: sequenceAccess,
    logger,
    readiness: backends.readiness,
    metrics,
    ...(settings ? { settings } : {}),
    routes: sequenceRoutes(backends),
  });
}
