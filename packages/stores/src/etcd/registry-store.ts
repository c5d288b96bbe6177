import { isStoreError } from "@im-core/common";
import type { Etcd3 } from "etcd3";
import type {
  CallOptions,
  DeviceEntry,
  DeviceSnapshot,
  MirrorSource,
  WatchHandle,
  WatchSink,
} from "../devices.js";
import * as batch from "./batch.js";
import { connectEtcd, type Deadline, deadlineFrom } from "./client.js";
import * as devices from "./devices.js";
import { KeyLayout } from "./keys.js";
import { type LeaseGrant, Leases } from "./leases.js";
import * as reads from "./reads.js";
import { watchDevices } from "./watch.js";

export interface EtcdRegistryStoreOptions {
  endpoints: readonly string[];
  /** Longest a call may take when its caller sets no earlier deadline. Default 5 s. */
  callTimeoutMs?: number;
  /** Key root; tests give each case its own so they can share one etcd. Default `/im/registry/v1/`. */
  keyRoot?: string;
}

/**
 * The registry's state in etcd: one key per (user, device), attached to a lease (layout: keys.ts).
 * An adapter: it offers etcd's atomic operations shaped for the registry (a conditional write of one
 * user's devices) and leaves the rules (device limit, eviction) to the service. Every method completes
 * within its deadline or throws a `StoreError` (`unavailable` when etcd does not answer).
 */
export class EtcdRegistryStore implements MirrorSource {
  readonly layout: KeyLayout;
  readonly #etcd: Etcd3;
  readonly #leases: Leases;
  readonly #callTimeoutMs: number;

  constructor(options: EtcdRegistryStoreOptions) {
    this.layout = new KeyLayout(options.keyRoot);
    this.#etcd = connectEtcd(options.endpoints);
    this.#leases = new Leases(this.#etcd, this.layout);
    this.#callTimeoutMs = options.callTimeoutMs ?? 5_000;
  }

  close(): void {
    this.#etcd.close();
  }

  /** Longest one call may take (`callTimeoutMs`); see `CallOptions.until` for several calls. */
  get callTimeoutMs(): number {
    return this.#callTimeoutMs;
  }

  #deadline(options?: CallOptions): Deadline {
    const timeoutMs = Math.min(
      this.#callTimeoutMs,
      (options?.until ?? Number.POSITIVE_INFINITY) - Date.now(),
    );
    return deadlineFrom(timeoutMs, options?.signal);
  }

  /** A lease granted to the gateway node `owner` (recorded with the lease, see `grantOf`). */
  grantLease(
    ttlSeconds: number,
    owner: string,
    options?: CallOptions,
  ): Promise<{ leaseId: bigint; ttlSeconds: number }> {
    return this.#leases.grant(ttlSeconds, owner, this.#deadline(options));
  }

  /**
   * The TTL the lease was granted with and the gateway node it was granted to (undefined for a lease
   * granted before owners were recorded); `not_found` once it expired or was revoked.
   */
  grantOf(leaseId: bigint, options?: CallOptions): Promise<LeaseGrant> {
    return this.#leases.grantOf(leaseId, this.#deadline(options));
  }

  /** One keep-alive; answers the TTL left after it, `not_found` once the lease is gone. */
  renew(leaseId: bigint, options?: CallOptions): Promise<{ ttlSeconds: number }> {
    return this.#leases.renew(leaseId, this.#deadline(options));
  }

  /** Revokes the lease, removing every entry on it in one revision. */
  async revokeLease(leaseId: bigint, options?: CallOptions): Promise<{ revision: number }> {
    const deadline = this.#deadline(options);
    const revision = await this.#leases.revoke(leaseId, deadline);
    return { revision: revision ?? (await reads.currentRevision(this.#etcd, this.layout, deadline)) };
  }

  /** Best effort, for a lease nobody will use. */
  revokeQuietly(leaseId: bigint): void {
    this.#leases.revokeQuietly(leaseId);
  }

  /** One user's devices, at the revision they were read at. */
  readUser(userId: string, options?: CallOptions): Promise<DeviceSnapshot> {
    return devices.readUser(this.#etcd, this.layout, userId, this.#deadline(options));
  }

  /** See {@link devices.writeDevice}: one txn, only if the user's devices did not change since the view. */
  async writeDevice(write: devices.DeviceWrite, options?: CallOptions): Promise<devices.WriteOutcome> {
    try {
      return await devices.writeDevice(this.#etcd, this.layout, write, this.#deadline(options));
    } catch (error) {
      if (isStoreError(error, "not_found")) this.#leases.forget(write.leaseId);
      throw error;
    }
  }

  /** See {@link batch.writeUsers}: several users' conditional writes on one lease, in one txn. */
  async writeUsers(write: batch.BatchWrite, options?: CallOptions): Promise<batch.BatchOutcome> {
    try {
      return await batch.writeUsers(this.#etcd, this.layout, write, this.#deadline(options));
    } catch (error) {
      if (isStoreError(error, "not_found")) this.#leases.forget(write.leaseId);
      throw error;
    }
  }

  unregister(
    input: devices.UnregisterInput,
    options?: CallOptions,
  ): Promise<{ removed: boolean; revision?: number }> {
    return devices.unregister(this.#etcd, this.layout, input, this.#deadline(options));
  }

  /** Every device of the given users at one revision, straight from etcd. */
  lookup(userIds: readonly string[], options?: CallOptions): Promise<DeviceSnapshot> {
    return reads.lookup(this.#etcd, this.layout, userIds, this.#deadline(options));
  }

  snapshot(
    options?: CallOptions,
    onPage?: (entries: readonly DeviceEntry[]) => void,
  ): Promise<DeviceSnapshot> {
    return reads.snapshot(this.#etcd, this.layout, () => this.#deadline(options), onPage);
  }

  watch(fromRevision: number, sink: WatchSink): WatchHandle {
    return watchDevices(this.#etcd, this.layout, fromRevision, sink);
  }

  currentRevision(options?: CallOptions): Promise<number> {
    return reads.currentRevision(this.#etcd, this.layout, this.#deadline(options));
  }

  /** `out_of_range` if history from `revision` on is gone (compacted, or etcd's revision went backwards). */
  assertHistoryFrom(revision: number, options?: CallOptions): Promise<void> {
    return reads.assertHistoryFrom(this.#etcd, this.layout, revision, this.#deadline(options));
  }
}
