import { SequenceService } from "@im-core/proto";
import {
  createServiceServer,
  type Logger,
  type ReadinessCheck,
  type ServerSettings,
} from "@im-core/service-kit";
import { sequenceAccess } from "./access.js";
import type { SequenceHandlerDeps } from "./handlers/sequence-service.js";
import { sequenceRoutes } from "./routes.js";

export interface SequenceServerDeps extends SequenceHandlerDeps {
  logger: Logger;
  readiness: readonly ReadinessCheck[];
  /** Auth, TLS, CORS and limits from `loadServerSettings()`; tests may leave it out. */
  settings?: Partial<ServerSettings>;
}

/** Builds the sequence service's server from its dependencies; main.ts decides what they are. */
export function createSequenceServer(deps: SequenceServerDeps) {
  return createServiceServer({
    service: SequenceService,
    accessPolicy: sequenceAccess,
    logger: deps.logger,
    readiness: deps.readiness,
    ...(deps.settings ? { settings: deps.settings } : {}),
    routes: sequenceRoutes(deps),
  });
}
