import { SequenceService } from "@im-core/proto";
import {
  createServiceServer,
  type Logger,
  type ReadinessCheck,
  type ServerSettings,
  type ServiceMetrics,
} from "@im-core/service-kit";
import { sequenceAccess } from "./access.js";
import type { SequenceHandlerDeps } from "./handlers/sequence-service.js";
import { sequenceRoutes } from "./routes.js";

export interface SequenceServerDeps extends SequenceHandlerDeps {
  logger: Logger;
  readiness: readonly ReadinessCheck[];
  /** Auth, TLS, CORS and limits from `loadServerSettings()`; tests may leave it out. */
  settings?: Partial<ServerSettings>;
  /** The registry `/metrics` serves; pass the one the backends count into (see backends.ts). */
  metrics?: ServiceMetrics;
}

/** Builds the sequence service's server from its dependencies; main.ts decides what they are. */
export function createSequenceServer(deps: SequenceServerDeps) {
  return createServiceServer({
    service: SequenceService,
    accessPolicy: sequenceAccess,
    logger: deps.logger,
    readiness: deps.readiness,
    ...(deps.settings ? { settings: deps.settings } : {}),
    ...(deps.metrics ? { metrics: deps.metrics } : {}),
    routes: sequenceRoutes(deps),
  });
}
