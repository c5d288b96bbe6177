import { StoreError } from "@im-core/common";
import { castGrpcError, type Etcd3, EtcdLeaseInvalidError } from "etcd3";
import { type Deadline, type GrpcCallOptions, withRetry } from "./client.js";

/** Granted TTLs of shared leases remembered, so a Register on one does not ask etcd every time. */
const TTL_CACHE_SIZE = 10_000;

export function leaseNotFound(leaseId: bigint): StoreError {
  return new StoreError("not_found", `lease ${leaseId} not found (expired or revoked)`);
}

/** etcd leases as the registry uses them: granted, renewed once per Renew, revoked. */
export class Leases {
  /** lease id → granted TTL. A lease's granted TTL never changes; whether it still exists, the put tells. */
  readonly #grantedTtls = new Map<bigint, number>();

  constructor(private readonly etcd: Etcd3) {}

  // A repeated grant after a lost answer only leaves an unused lease behind, which expires by itself.
  async grant(ttlSeconds: number, deadline: Deadline): Promise<{ leaseId: bigint; ttlSeconds: number }> {
    const response = await withRetry("grant lease", deadline, (o) =>
      this.etcd.leaseClient.leaseGrant({ TTL: ttlSeconds, ID: 0 }, o),
    );
    if (response.error) throw new StoreError("unavailable", `grant lease: ${response.error}`);
    const lease = { leaseId: BigInt(response.ID), ttlSeconds: Number(response.TTL) };
    this.#remember(lease.leaseId, lease.ttlSeconds);
    return lease;
  }

  /**
   * The TTL a lease was granted with; `not_found` once it expired or was revoked. Cached: a gateway
   * registers up to ~1,000 devices on one shared lease, and a put on a lease that is gone fails anyway
   * (`not_found`, which makes the caller `forget` it), so the cache never lets an entry onto a dead lease.
   */
  async grantedTtl(leaseId: bigint, deadline: Deadline): Promise<number> {
    const cached = this.#grantedTtls.get(leaseId);
    if (cached !== undefined) return cached;
    const response = await withRetry("lease time-to-live", deadline, (o) =>
      this.etcd.leaseClient.leaseTimeToLive({ ID: leaseId.toString() }, o),
    );
    if (Number(response.TTL) <= 0) throw leaseNotFound(leaseId);
    this.#remember(leaseId, Number(response.grantedTTL));
    return Number(response.grantedTTL);
  }

  forget(leaseId: bigint): void {
    this.#grantedTtls.delete(leaseId);
  }

  /** One keep-alive (the service holds no leases); answers the TTL left after it. */
  async renew(leaseId: bigint, deadline: Deadline): Promise<{ ttlSeconds: number }> {
    const response = await withRetry("renew", deadline, (o) => this.#keepAliveOnce(leaseId, o));
    if (Number(response.TTL) <= 0) throw leaseNotFound(leaseId);
    return { ttlSeconds: Number(response.TTL) };
  }

  /** Revokes the lease; the revision that removed its entries, or undefined if a lost answer did it. */
  async revoke(leaseId: bigint, deadline: Deadline): Promise<number | undefined> {
    this.forget(leaseId);
    let attempts = 0;
    const response = await withRetry("revoke lease", deadline, async (o) => {
      attempts++;
      try {
        return await this.etcd.leaseClient.leaseRevoke({ ID: leaseId.toString() }, o);
      } catch (error) {
        // After an attempt whose answer was lost, "not found" means that attempt revoked it.
        if (attempts > 1 && castGrpcError(error as Error) instanceof EtcdLeaseInvalidError) return undefined;
        throw error;
      }
    });
    return response ? Number(response.header.revision) : undefined;
  }

  /** Best effort, for a lease nobody will use (a Register that failed after granting its own). */
  revokeQuietly(leaseId: bigint): void {
    this.forget(leaseId);
    this.etcd.leaseClient
      .leaseRevoke({ ID: leaseId.toString() }, { deadline: Date.now() + 2_000 })
      .catch(() => {});
  }

  async #keepAliveOnce(leaseId: bigint, o: GrpcCallOptions): Promise<{ TTL: string }> {
    const stream = await this.etcd.leaseClient.leaseKeepAlive(o);
    try {
      return await new Promise((resolve, reject) => {
        stream.on("data", resolve);
        stream.on("error", (error) => reject(castGrpcError(error)));
        stream.on("end", () => reject(new StoreError("unavailable", "renew: keep-alive stream ended")));
        stream.write({ ID: leaseId.toString() });
      });
    } finally {
      stream.cancel();
    }
  }

  #remember(leaseId: bigint, ttlSeconds: number): void {
    if (this.#grantedTtls.size >= TTL_CACHE_SIZE) {
      this.#grantedTtls.delete(this.#grantedTtls.keys().next().value!);
    }
    this.#grantedTtls.set(leaseId, ttlSeconds);
  }
}
