import type { ConnectRouter } from "@connectrpc/connect";
import { SequenceService } from "@im-core/proto";

/** Registers the sequence service's RPCs. Methods not implemented yet answer UNIMPLEMENTED. */
export function sequenceRoutes() {
  return (router: ConnectRouter) => {
    router.service(SequenceService, {});
  };
}
