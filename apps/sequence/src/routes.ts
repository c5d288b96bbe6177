import type { ConnectRouter } from "@connectrpc/connect";
import { SequenceService } from "@im-core/proto";
import { type SequenceHandlerDeps, sequenceHandlers } from "./handlers/sequence-service.js";

/** Registers the sequence service's RPCs. */
export function sequenceRoutes(deps: SequenceHandlerDeps) {
  return (router: ConnectRouter) => {
    router.service(SequenceService, sequenceHandlers(deps));
  };
}
