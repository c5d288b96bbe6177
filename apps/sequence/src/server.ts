import { createServiceServer, type Logger, type ReadinessCheck } from "@im-core/service-kit";
import { sequenceRoutes } from "./routes.js";

export interface SequenceServerDeps {
  logger: Logger;
  readiness: readonly ReadinessCheck[];
}

/** Builds the sequence service's server from its dependencies; main.ts decides what they are. */
export function createSequenceServer(deps: SequenceServerDeps) {
  return createServiceServer({
    logger: deps.logger,
    readiness: deps.readiness,
    routes: (router) => sequenceRoutes()(router),
  });
}
