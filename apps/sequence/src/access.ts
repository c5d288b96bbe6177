import type { AccessPolicy } from "@im-core/service-kit";

/**
 * Who may call what. Gateways and routers allocate and read numbers; admin tools read, including
 * the durable backup rows, but never allocate.
 */
export const sequenceAccess: AccessPolicy = {
  Next: ["gateway", "router"],
  BatchNext: ["gateway", "router"],
  Current: ["gateway", "router", "admin"],
  ListSnapshots: ["admin"],
};
