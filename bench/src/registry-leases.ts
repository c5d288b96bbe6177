import type { Client } from "@connectrpc/connect";
import type { RegistryService } from "@im-core/proto";
import { type Preflight, preflight } from "./rows.js";

export const GATEWAY = "gw-bench:9000";
export const LEASE_TTL = 600;
/** Entries per shared lease, the cap docs/operations.md recommends to gateways. */
export const PER_LEASE = 1000;

export interface SharedLeases {
  /** Whether GrantLease works. */
  readonly grant: Preflight;
  /** The shared lease for entry `i`, granted when first needed (0n = none: the service grants one per entry). */
  leaseFor(i: number): Promise<bigint>;
}

/** Leases granted through the service, PER_LEASE entries on each, as gateways share them. */
export async function sharedLeases(reg: Client<typeof RegistryService>): Promise<SharedLeases> {
  const leases: bigint[] = [];
  const grantOne = async () => {
    leases.push((await reg.grantLease({ gatewayNode: GATEWAY, ttlSeconds: LEASE_TTL })).leaseId);
  };
  const grant = await preflight(grantOne);
  return {
    grant,
    async leaseFor(i) {
      if (!grant.ok) return 0n;
      const index = Math.floor(i / PER_LEASE);
      while (leases.length <= index) await grantOne();
      return leases[index]!;
    },
  };
}
