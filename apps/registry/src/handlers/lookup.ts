import type { HandlerContext } from "@connectrpc/connect";
import type { BatchLookupRequest, LookupRequest } from "@im-core/proto";
import { toLocations } from "./convert.js";
import type { RegistryDeps } from "./deps.js";
import { requireUserIds, validateId } from "./validate.js";

export function lookupHandlers({ store, mirror }: RegistryDeps) {
  /** From the mirror when it is current (no etcd round trip), else from etcd at one revision. */
  async function read(userIds: string[], signal: AbortSignal) {
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
