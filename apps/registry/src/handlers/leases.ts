import type { HandlerContext } from "@connectrpc/connect";
import type { GrantLeaseRequest, RenewRequest, RevokeLeaseRequest } from "@im-core/proto";
import { validateId } from "@im-core/service-kit";
import type { RegistryDeps } from "./index.js";
import { requireLeaseId, requireTtl } from "./validate.js";

export function leaseHandlers({ store, registrar, mirror }: RegistryDeps) {
  return {
    async grantLease(request: GrantLeaseRequest, context: HandlerContext) {
      validateId("gateway_node", request.gatewayNode);
      const ttl = requireTtl(request.ttlSeconds);
      const lease = await registrar.grantLease(ttl, { signal: context.signal });
      return { leaseId: lease.leaseId, ttlSeconds: lease.ttlSeconds };
    },

    async renew(request: RenewRequest, context: HandlerContext) {
      const leaseId = requireLeaseId(request.leaseId);
      return store.renew(leaseId, { signal: context.signal });
    },

    async revokeLease(request: RevokeLeaseRequest, context: HandlerContext) {
      const leaseId = requireLeaseId(request.leaseId);
      // Known before the revoke: only then is there a change this instance must see before answering
      // lookups from its mirror (a revoke of an empty lease changes nothing).
      const hadEntries = mirror.hasLease(leaseId);
      const { revision } = await store.revokeLease(leaseId, { signal: context.signal });
      if (hadEntries) mirror.noteWrite(revision);
      return {};
    },
  };
}
