import { StoreError } from "@im-core/common";
import { type Caller, type RateLimiter, rateLimited } from "@im-core/service-kit";
import type { CallOptions, DeviceEntry, DeviceSnapshot, EtcdRegistryStore } from "@im-core/stores/etcd";
import { requireOwnLease } from "../access.js";
import { type DeviceRules, decideRegistration } from "./rules.js";

export interface Registration {
  userId: string;
  deviceId: string;
  gatewayNode: string;
  /** A lease from GrantLease; undefined grants one for this entry alone, with the default TTL. */
  leaseId?: bigint | undefined;
  /**
   * The user's devices as a current mirror knows them: the first decision is made on them instead of a
   * read from etcd. The write's condition still guards it, so a stale hint only costs another round.
   */
  hint?: DeviceSnapshot | undefined;
  /** Who asks (undefined when auth is off): its rate of lease grants, and which leases it may use. */
  caller?: Caller | undefined;
}

export interface Registered {
  leaseId: bigint;
  ttlSeconds: number;
  connectedAtMs: number;
  evicted: readonly DeviceEntry[];
  /** The revision that wrote the entry. */
  revision: number;
}

/** A decision made on a view that changed before its write is made again; this many times at most. */
const MAX_ROUNDS = 64;

/**
 * Registers devices under the device rules. Each round reads the user's devices (or takes the hint),
 * decides, and writes only if nothing under the user changed since that read (one etcd txn), so the limit
 * holds under any concurrency: the store's conditional write is the atomic step, this is the rule.
 */
export class DeviceRegistrar {
  constructor(
    private readonly store: EtcdRegistryStore,
    /** The device rules; BatchRegister decides under the same ones. */
    readonly rules: DeviceRules & { defaultTtlSeconds: number },
    /** Lease grants per caller: each lease costs etcd a keep-alive slot until it expires. */
    private readonly leaseGrants: RateLimiter,
  ) {}

  /** A lease for gateway node `owner`; 0 seconds means the service's default TTL. */
  grantLease(
    ttlSeconds: number,
    owner: string,
    caller: Caller | undefined,
    options: CallOptions = {},
  ): Promise<{ leaseId: bigint; ttlSeconds: number }> {
    const wait = caller ? this.leaseGrants.take(caller.tokenId) : 0;
    if (wait > 0) throw rateLimited("lease grants", wait);
    return this.store.grantLease(ttlSeconds || this.rules.defaultTtlSeconds, owner, options);
  }

  async register(registration: Registration, call: CallOptions = {}): Promise<Registered> {
    // One budget for the whole operation (lease, reads, writes), as for any single store call.
    const options = {
      ...call,
      until: Math.min(call.until ?? Infinity, Date.now() + this.store.callTimeoutMs),
    };
    const own = registration.leaseId === undefined;
    const lease = own
      ? await this.grantLease(0, registration.gatewayNode, registration.caller, options)
      : await this.#sharedLease(registration.leaseId!, registration.caller, options);
    try {
      return { ...lease, ...(await this.#write(registration, lease.leaseId, options)) };
    } catch (error) {
      // A lease granted for this entry alone would otherwise sit unused until it expires.
      if (own) this.store.revokeQuietly(lease.leaseId);
      throw error;
    }
  }

  async #sharedLease(leaseId: bigint, caller: Caller | undefined, options: CallOptions) {
    const grant = await this.store.grantOf(leaseId, options);
    requireOwnLease(caller, leaseId, grant);
    return { leaseId, ttlSeconds: grant.ttlSeconds };
  }

  async #write(registration: Registration, leaseId: bigint, options: CallOptions) {
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const hint = round === 0 ? registration.hint : undefined;
      const view = hint
        ? { revision: hint.revision, entries: hint.entries.filter((e) => e.userId === registration.userId) }
        : await this.store.readUser(registration.userId, options);
      const decision = decideRegistration(view.entries, registration.deviceId, this.rules);
      if (!decision.accept) {
        // Only etcd's own answer may refuse: a hint may be stale.
        if (hint) continue;
        throw new StoreError("exhausted", decision.reason);
      }
      const connectedAtMs = Date.now();
      const outcome = await this.store.writeDevice(
        {
          userId: registration.userId,
          deviceId: registration.deviceId,
          gatewayNode: registration.gatewayNode,
          connectedAtMs,
          leaseId,
          evict: decision.evict,
          unchangedSince: view.revision,
        },
        options,
      );
      if (outcome.written) return { connectedAtMs, evicted: decision.evict, revision: outcome.revision };
    }
    throw new StoreError(
      "unavailable",
      "register: too many concurrent changes to this user's devices; retry",
    );
  }
}
