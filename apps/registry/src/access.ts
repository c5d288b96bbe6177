import type { AccessPolicy } from "@im-core/service-kit";

/**
 * Who may call what. Gateways hold connections (register, renew, leases) and look devices up;
 * routers deliver (lookups, Watch); admin tools read everything but never write.
 */
export const registryAccess: AccessPolicy = {
  GrantLease: ["gateway"],
  Register: ["gateway"],
  Renew: ["gateway"],
  Unregister: ["gateway"],
  RevokeLease: ["gateway"],
  Lookup: ["gateway", "router", "admin"],
  BatchLookup: ["gateway", "router", "admin"],
  Watch: ["router", "admin"],
};
