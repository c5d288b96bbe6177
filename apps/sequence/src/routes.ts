import type { ConnectRouter } from "@connectrpc/connect";
import { SequenceService } from "@im-core/proto";
import { type SequenceDeps, sequenceHandlers } from "./handlers/index.js";

/** Registers the sequence service's RPCs. */
export function sequenceRoutes(deps: SequenceDeps) {
  return (router: ConnectRouter) => {
    router.service(SequenceService, sequenceHandlers(deps));
  };
}
