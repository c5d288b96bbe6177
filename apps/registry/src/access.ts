import { Code, ConnectError } from "@connectrpc/connect";
import { type AccessPolicy, actsFor, type Caller } from "@im-core/service-kit";
import type { LeaseGrant } from "@im-core/stores/etcd";

/**
 * Who may call what. Gateways hold connections (register, renew, leases), look devices up and
 * watch their own devices;
 * routers deliver (lookups, Watch); admin tools read everything but never write.
 */
export const registryAccess: AccessPolicy = {
  GrantLease: ["gateway"],
  Register: ["gateway"],
  BatchRegister: ["gateway"],
  Renew: ["gateway"],
  Unregister: ["gateway"],
  RevokeLease: ["gateway"],
  Lookup: ["gateway", "router", "admin"],
  BatchLookup: ["gateway", "router", "admin"],
  // A gateway only with `gateway_nodes` naming its own nodes (requireOwnWatch): its devices' fates.
  Watch: ["gateway", "router", "admin"],
};

/**
 * A gateway token may Watch only its own nodes' devices: it must set `gateway_nodes`, each one of its
 * own. Routers and admins, and an open service, may watch anything.
 */
export function requireOwnWatch(caller: Caller | undefined, gatewayNodes: readonly string[]): void {
  if (caller?.role !== "gateway") return;
  if (gatewayNodes.length === 0) {
    throw new ConnectError(
      "gateway_nodes: must be set: a gateway token may watch only its own gateway nodes",
      Code.PermissionDenied,
    );
  }
  for (const [i, node] of gatewayNodes.entries()) requireActsFor(caller, node, `gateway_nodes[${i}]`);
}

/** PERMISSION_DENIED unless `caller` may act for gateway `node` (`field` is where the request named it). */
export function requireActsFor(caller: Caller | undefined, node: string, field: string): void {
  if (!actsFor(caller, node)) {
    throw new ConnectError(
      `${field}: this token may not act for gateway node "${node}"`,
      Code.PermissionDenied,
    );
  }
}

/**
 * PERMISSION_DENIED unless the lease was granted to a gateway node `caller` acts for. A token bound to
 * its nodes cannot use a lease whose owner is unknown (granted before owners were recorded).
 */
export function requireOwnLease(caller: Caller | undefined, leaseId: bigint, grant: LeaseGrant): void {
  if (caller?.gatewayNodes === undefined || caller.gatewayNodes === "any") return;
  if (grant.owner === undefined || !actsFor(caller, grant.owner)) {
    throw new ConnectError(
      `lease_id: lease ${leaseId} was not granted to a gateway node of this token`,
      Code.PermissionDenied,
    );
  }
}
