import type { HandlerContext } from "@connectrpc/connect";
import type {
  BatchLookupRequest,
  BatchLookupResponse,
  DeviceLocation,
  LookupRequest,
  LookupResponse,
} from "@im-core/proto";
import { toLocations } from "./convert.js";
import type { RegistryDeps } from "./index.js";
import { requireUserIds, validateId } from "./validate.js";

/** Longest a lookup waits for the mirror to apply this instance's own latest write. */
const CATCH_UP_MS = 50;

export function lookupHandlers({ store, mirror }: RegistryDeps) {
  // The last answer's revision as the int64 the response carries: the mirror's revision moves only on
  // writes, so most answers reuse it instead of converting it again.
  let lastRevision = -1;
  let lastRevisionBig = 0n;
  function revisionOf(revision: number): bigint {
    if (revision !== lastRevision) {
      lastRevisionBig = BigInt(revision);
      lastRevision = revision;
    }
    return lastRevisionBig;
  }

  // Answers are complete messages, so Connect sends them as they are instead of copying them through
  // `create`. Their devices are the mirror's ready-made messages (see backends.ts): shared, never
  // mutated.
  function lookupResponse(devices: readonly DeviceLocation[], revision: number): LookupResponse {
    return {
      $typeName: "im.registry.v1.LookupResponse",
      devices: devices as DeviceLocation[],
      revision: revisionOf(revision),
    };
  }

  function batchResponse(devices: readonly DeviceLocation[], revision: number): BatchLookupResponse {
    return {
      $typeName: "im.registry.v1.BatchLookupResponse",
      devices: devices as DeviceLocation[],
      revision: revisionOf(revision),
    };
  }

  /*
   * Both read from the mirror when it is current (no etcd round trip), else from etcd at one revision.
   * Right after a write of this instance to a user asked for (or to users it cannot name: a revoked
   * lease), the mirror gets a moment to apply it (its watch is ~1 ms behind) before the lookup pays for
   * a read from etcd; writes to other users do not hold it. A current mirror (the usual case) answers at
   * once, without awaiting `catchUp`, which would let it answer anyway.
   */

  async function lookupSlow(userId: string, signal: AbortSignal): Promise<LookupResponse> {
    const users = [userId];
    const ownWrites = await mirror.catchUp(CATCH_UP_MS, users);
    const answer = mirror.views(users, ownWrites);
    if (answer) return lookupResponse(answer.views, answer.revision);
    const stored = await store.lookup([userId], { signal });
    return lookupResponse(toLocations(stored.entries), stored.revision);
  }

  async function batchLookupSlow(userIds: readonly string[], signal: AbortSignal) {
    const ownWrites = await mirror.catchUp(CATCH_UP_MS, userIds);
    const answer = mirror.views(userIds, ownWrites);
    if (answer) return batchResponse(answer.views, answer.revision);
    const stored = await store.lookup(userIds, { signal });
    return batchResponse(toLocations(stored.entries), stored.revision);
  }

  return {
    async lookup(request: LookupRequest, context: HandlerContext): Promise<LookupResponse> {
      validateId("user_id", request.userId);
      const answer = mirror.views([request.userId]);
      if (answer) return lookupResponse(answer.views, answer.revision);
      return lookupSlow(request.userId, context.signal);
    },

    async batchLookup(request: BatchLookupRequest, context: HandlerContext): Promise<BatchLookupResponse> {
      const userIds = requireUserIds(request.userIds);
      const answer = mirror.views(userIds);
      if (answer) return batchResponse(answer.views, answer.revision);
      return batchLookupSlow(userIds, context.signal);
    },
  };
}
