import type { HandlerContext } from "@connectrpc/connect";
import type { GrantLeaseRequest, RenewRequest, RevokeLeaseRequest } from "@im-core/proto";
import { callerKey, validateId } from "@im-core/service-kit";
import { requireActsFor, requireOwnLease } from "../access.js";
import type { RegistryDeps } from "./index.js";
import { requireLeaseId, requireTtl } from "./validate.js";

export function leaseHandlers({ store, registrar, mirror }: RegistryDeps) {
  /** A gateway token bound to its nodes may only touch leases granted to them. */
  async function requireOwn(leaseId: bigint, context: HandlerContext): Promise<void> {
    const caller = context.values.get(callerKey);
    if (caller?.gatewayNodes instanceof Set) {
      requireOwnLease(caller, leaseId, await store.grantOf(leaseId, { signal: context.signal }));
    }
  }

  return {
    async grantLease(request: GrantLeaseRequest, context: HandlerContext) {
      validateId("gateway_node", request.gatewayNode);
      const ttl = requireTtl(request.ttlSeconds);
      const caller = context.values.get(callerKey);
      requireActsFor(caller, request.gatewayNode, "gateway_node");
      const lease = await registrar.grantLease(ttl, request.gatewayNode, caller, { signal: context.signal });
      return { leaseId: lease.leaseId, ttlSeconds: lease.ttlSeconds };
    },

    async renew(request: RenewRequest, context: HandlerContext) {
      const leaseId = requireLeaseId(request.leaseId);
      await requireOwn(leaseId, context);
      return store.renew(leaseId, { signal: context.signal });
    },

    async revokeLease(request: RevokeLeaseRequest, context: HandlerContext) {
      const leaseId = requireLeaseId(request.leaseId);
      await requireOwn(leaseId, context);
      // Always noted (revokes are rare): the mirror may not have applied this instance's own latest
      // registration on the lease yet, so "the mirror holds no entry of it" proves nothing.
      const { revision } = await store.revokeLease(leaseId, { signal: context.signal });
      mirror.noteWrite(revision);
      return {};
    },
  };
}
