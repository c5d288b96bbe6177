import type { HandlerContext } from "@connectrpc/connect";
import type { BatchLookupRequest, LookupRequest } from "@im-core/proto";
import { toLocations } from "./convert.js";
import type { RegistryDeps } from "./deps.js";
import { requireUserIds, validateId } from "./validate.js";

/** Longest a lookup waits for the mirror to apply this instance's own latest write. */
const CATCH_UP_MS = 50;

export function lookupHandlers({ store, mirror }: RegistryDeps) {
  /**
   * From the mirror when it is current (no etcd round trip), else from etcd at one revision. Right
   * after a write of this instance, the mirror gets a moment to apply it (its watch is ~1 ms behind)
   * before the lookup pays for a read from etcd.
   */
  async function read(userIds: string[], signal: AbortSignal) {
    await mirror.catchUp(CATCH_UP_MS);
    const answer = mirror.lookup(userIds) ?? (await store.lookup(userIds, { signal }));
    return { devices: toLocations(answer.entries), revision: BigInt(answer.revision) };
  }

  return {
    async lookup(request: LookupRequest, context: HandlerContext) {
      validateId("user_id", request.userId);
      return read([request.userId], context.signal);
    },

    async batchLookup(request: BatchLookupRequest, context: HandlerContext) {
      return read(requireUserIds(request.userIds), context.signal);
    },
  };
}
