import type { ServiceImpl } from "@connectrpc/connect";
import type { SequenceService } from "@im-core/proto";
import type { RateLimiter } from "@im-core/service-kit";
import type { MySqlSequenceBackup } from "@im-core/stores/mysql";
import type { SequenceAllocator } from "../allocator/allocator.js";
import { numberHandlers } from "./numbers.js";
import { snapshotHandlers } from "./snapshots.js";

/** What the handlers run on: the backends (backends.ts). */
export interface SequenceDeps {
  allocator: SequenceAllocator;
  backup: MySqlSequenceBackup;
  /** New conversations per token (see firstTouchGate). */
  newConversations: RateLimiter;
}

/** Every RPC of `im.sequence.v1.SequenceService`: validate, then delegate to the allocator or the backup. */
export function sequenceHandlers(deps: SequenceDeps): ServiceImpl<typeof SequenceService> {
  return {
    ...numberHandlers(deps),
    ...snapshotHandlers(deps),
  };
}
