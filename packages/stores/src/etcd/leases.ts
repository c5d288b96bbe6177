import { StoreError } from "@im-core/common";
import { castGrpcError, type Etcd3, EtcdLeaseInvalidError } from "etcd3";
import { type Deadline, type GrpcCallOptions, withRetry } from "./client.js";
import type { KeyLayout } from "./keys.js";

/** Leases remembered, so a Register on a shared one does not ask etcd every time. */
const CACHE_SIZE = 10_000;

/** What a lease was granted with: its TTL, and the gateway node it was granted to (when recorded). */
export interface LeaseGrant {
  readonly ttlSeconds: number;
  readonly owner: string | undefined;
}

export function leaseNotFound(leaseId: bigint): StoreError {
  return new StoreError("not_found", `lease ${leaseId} not found (expired or revoked)`);
}

/** etcd leases as the registry uses them: granted to a gateway node, renewed once per Renew, revoked. */
export class Leases {
  /** lease id → what it was granted with, which never changes; whether it still exists, the put tells. */
  readonly #grants = new Map<bigint, LeaseGrant>();

  constructor(
    private readonly etcd: Etcd3,
    private readonly layout: KeyLayout,
  ) {}

  /**
   * A lease for `owner`, recorded under the lease itself (so the record goes when the lease does). A
   * repeated grant after a lost answer only leaves an unused lease behind, which expires by itself.
   */
  async grant(
    ttlSeconds: number,
    owner: string,
    deadline: Deadline,
  ): Promise<{ leaseId: bigint; ttlSeconds: number }> {
    const response = await withRetry("grant lease", deadline, (o) =>
      this.etcd.leaseClient.leaseGrant({ TTL: ttlSeconds, ID: 0 }, o),
    );
    if (response.error) throw new StoreError("unavailable", `grant lease: ${response.error}`);
    const lease = { leaseId: BigInt(response.ID), ttlSeconds: Number(response.TTL) };
    const key = Buffer.from(this.layout.leaseKey(lease.leaseId));
    await withRetry("record lease owner", deadline, (o) =>
      this.etcd.kv.put({ key, value: Buffer.from(owner), lease: response.ID }, o),
    );
    this.#remember(lease.leaseId, { ttlSeconds: lease.ttlSeconds, owner });
    return lease;
  }

  /**
   * What the lease was granted with; `not_found` once it expired or was revoked. Cached: a gateway
   * registers up to ~1,000 devices on one shared lease, and a put on a lease that is gone fails anyway
   * (`not_found`, which makes the caller `forget` it), so the cache never lets an entry onto a dead lease.
   */
  async grantOf(leaseId: bigint, deadline: Deadline): Promise<LeaseGrant> {
    const cached = this.#grants.get(leaseId);
    if (cached !== undefined) return cached;
    const key = Buffer.from(this.layout.leaseKey(leaseId));
    const [alive, record] = await Promise.all([
      withRetry("lease time-to-live", deadline, (o) =>
        this.etcd.leaseClient.leaseTimeToLive({ ID: leaseId.toString() }, o),
      ),
      withRetry("read lease owner", deadline, (o) => this.etcd.kv.range({ key }, o)),
    ]);
    if (Number(alive.TTL) <= 0) throw leaseNotFound(leaseId);
    const grant = { ttlSeconds: Number(alive.grantedTTL), owner: record.kvs[0]?.value.toString("utf8") };
    this.#remember(leaseId, grant);
    return grant;
  }

  forget(leaseId: bigint): void {
    this.#grants.delete(leaseId);
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

  #remember(leaseId: bigint, grant: LeaseGrant): void {
    if (this.#grants.size >= CACHE_SIZE) this.#grants.delete(this.#grants.keys().next().value!);
    this.#grants.set(leaseId, grant);
  }
}
