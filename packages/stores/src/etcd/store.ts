import type { CallOptions as GrpcCallOptions } from "@grpc/grpc-js";
import type { Etcd3, IKeyValue, IRangeRequest, IRequestOp } from "etcd3";
import { castGrpcError, EtcdLeaseInvalidError } from "etcd3";
import { StoreError } from "../errors.js";
import { connectEtcd, type Deadline, deadlineFrom, toStoreError, withRetry } from "./client.js";
import { encodeValue } from "./codec.js";
import { entryFromKv } from "./entries.js";
import { KeyLayout, prefixEnd } from "./keys.js";
import type {
  CallOptions,
  DeviceEntry,
  DevicePolicy,
  MirrorSource,
  Snapshot,
  WatchHandle,
  WatchSink,
} from "./types.js";
import { watchDevices } from "./watch.js";

export interface EtcdRegistryStoreOptions {
  endpoints: readonly string[];
  /** TTL of a lease granted without an explicit one (Register without lease_id, GrantLease with 0). */
  defaultTtlSeconds: number;
  maxDevices: number;
  devicePolicy: DevicePolicy;
  /** Longest a call may take when its caller sets no earlier deadline. Default 5 s. */
  callTimeoutMs?: number;
  /** Key root; tests give each case its own so they can share one etcd. Default `/im/registry/v1/`. */
  keyRoot?: string;
}

export interface RegisterInput {
  userId: string;
  deviceId: string;
  gatewayNode: string;
  /** A lease from `grantLease`; undefined or 0n grants one for this entry alone. */
  leaseId?: bigint;
  /**
   * The user's entries at a revision, as a current mirror knows them. The first attempt decides on
   * them instead of reading etcd; the txn's compare still guards the decision, so a stale hint only
   * costs a retry with a fresh read.
   */
  hint?: Snapshot;
}

export interface RegisterResult {
  leaseId: bigint;
  ttlSeconds: number;
  connectedAtMs: number;
  evicted: DeviceEntry[];
  /** The revision that wrote the entry. */
  revision: number;
}

export interface UnregisterInput {
  userId: string;
  deviceId: string;
  /** Remove the entry only while it points to this gateway. */
  gatewayNode?: string;
}

/** A range or txn can carry at most this many operations with etcd's default `--max-txn-ops`. */
const MAX_TXN_OPS = 128;
/** Register re-reads and retries when a concurrent change to the same user wins the race. */
const MAX_REGISTER_ROUNDS = 64;
const SNAPSHOT_PAGE = 5_000;
/** Granted TTLs of shared leases remembered, so a Register on one does not ask etcd every time. */
const LEASE_TTL_CACHE = 10_000;

const utf8 = (s: string) => Buffer.from(s, "utf8");

/**
 * The registry's state in etcd: one key per (user, device), attached to a lease. Every method either
 * completes within its deadline or throws a `StoreError` (`unavailable` when etcd does not answer).
 */
export class EtcdRegistryStore implements MirrorSource {
  readonly layout: KeyLayout;
  private readonly etcd: Etcd3;
  private readonly callTimeoutMs: number;
  /** lease id → granted TTL. A lease's granted TTL never changes; whether it still exists, the put tells. */
  private readonly grantedTtls = new Map<bigint, number>();

  constructor(private readonly options: EtcdRegistryStoreOptions) {
    this.layout = new KeyLayout(options.keyRoot);
    this.etcd = connectEtcd(options.endpoints);
    this.callTimeoutMs = options.callTimeoutMs ?? 5_000;
  }

  close(): void {
    this.etcd.close();
  }

  private deadline(options?: CallOptions): Deadline {
    return deadlineFrom(this.callTimeoutMs, options?.signal);
  }

  async grantLease(
    ttlSeconds: number,
    options?: CallOptions,
  ): Promise<{ leaseId: bigint; ttlSeconds: number }> {
    return this.grant(ttlSeconds || this.options.defaultTtlSeconds, this.deadline(options));
  }

  // A repeated grant after a lost answer only leaves an unused lease behind, which expires by itself.
  private async grant(
    ttlSeconds: number,
    deadline: Deadline,
  ): Promise<{ leaseId: bigint; ttlSeconds: number }> {
    const response = await withRetry("grant lease", deadline, (o) =>
      this.etcd.leaseClient.leaseGrant({ TTL: ttlSeconds, ID: 0 }, o),
    );
    if (response.error) throw new StoreError("unavailable", `grant lease: ${response.error}`);
    const lease = { leaseId: BigInt(response.ID), ttlSeconds: Number(response.TTL) };
    this.rememberTtl(lease.leaseId, lease.ttlSeconds);
    return lease;
  }

  /**
   * The TTL a lease was granted with; `not_found` once it expired or was revoked. Cached: a gateway
   * registers up to ~1,000 devices on one shared lease, and a put on a lease that is gone fails anyway
   * (mapped to `not_found`), so the cache never lets an entry onto a dead lease.
   */
  private async grantedTtl(leaseId: bigint, deadline: Deadline): Promise<number> {
    const cached = this.grantedTtls.get(leaseId);
    if (cached !== undefined) return cached;
    const response = await withRetry("lease time-to-live", deadline, (o) =>
      this.etcd.leaseClient.leaseTimeToLive({ ID: leaseId.toString() }, o),
    );
    if (Number(response.TTL) <= 0) throw notFoundLease(leaseId);
    this.rememberTtl(leaseId, Number(response.grantedTTL));
    return Number(response.grantedTTL);
  }

  private rememberTtl(leaseId: bigint, ttlSeconds: number): void {
    if (this.grantedTtls.size >= LEASE_TTL_CACHE) {
      this.grantedTtls.delete(this.grantedTtls.keys().next().value!);
    }
    this.grantedTtls.set(leaseId, ttlSeconds);
  }

  private async userDevices(
    userId: string,
    deadline: Deadline,
  ): Promise<{ kvs: IKeyValue[]; revision: number }> {
    const prefix = this.layout.userPrefix(userId);
    const response = await withRetry("read devices", deadline, (o) =>
      this.etcd.kv.range({ key: utf8(prefix), range_end: prefixEnd(prefix) }, o),
    );
    return { kvs: response.kvs, revision: Number(response.header.revision) };
  }

  /**
   * Upserts the device's entry. The device limit holds under any concurrency: the write is one txn that
   * only succeeds if no key of this user was created or changed since the read it was decided on.
   */
  async register(input: RegisterInput, options?: CallOptions): Promise<RegisterResult> {
    const deadline = this.deadline(options);
    const ownLease = !input.leaseId;
    const lease = ownLease
      ? await this.grant(this.options.defaultTtlSeconds, deadline)
      : { leaseId: input.leaseId!, ttlSeconds: await this.grantedTtl(input.leaseId!, deadline) };
    try {
      return { ...lease, ...(await this.putWithinLimit(input, lease.leaseId, deadline)) };
    } catch (error) {
      if (ownLease) this.revokeQuietly(lease.leaseId);
      else if (error instanceof StoreError && error.kind === "not_found")
        this.grantedTtls.delete(lease.leaseId);
      throw error;
    }
  }

  private async putWithinLimit(
    input: RegisterInput,
    leaseId: bigint,
    deadline: Deadline,
  ): Promise<Omit<RegisterResult, "leaseId" | "ttlSeconds">> {
    const key = this.layout.deviceKey(input.userId, input.deviceId);
    const prefix = this.layout.userPrefix(input.userId);
    const { maxDevices, devicePolicy } = this.options;
    /** The last txn sent: if its answer was lost, the next read finds its value in place. */
    let sent: { value: Buffer; connectedAtMs: number; evicted: DeviceEntry[] } | undefined;
    for (let round = 0; round < MAX_REGISTER_ROUNDS; round++) {
      const hint = round === 0 ? input.hint : undefined;
      const { entries, revision, own } = hint
        ? {
            entries: hint.entries.filter((e) => e.userId === input.userId),
            revision: hint.revision,
            own: undefined,
          }
        : await this.readUser(input.userId, key, deadline);
      if (sent && own && own.lease === leaseId.toString() && own.value.equals(sent.value)) {
        // Our earlier txn committed and only its answer was lost (the retry's compare then failed on
        // our own write): answer what it did, not a second write with an empty `evicted`.
        return {
          connectedAtMs: sent.connectedAtMs,
          evicted: sent.evicted,
          revision: Number(own.mod_revision),
        };
      }
      const known = entries.some((e) => e.deviceId === input.deviceId);
      const others = entries.filter((e) => e.deviceId !== input.deviceId);
      const excess = known ? 0 : others.length + 1 - maxDevices;
      if (excess > 0 && devicePolicy === "reject") {
        // A hint may be stale: only etcd's own answer may reject.
        if (hint) continue;
        throw new StoreError("exhausted", `user already has ${others.length} devices (limit ${maxDevices})`);
      }
      const evicted = excess > 0 ? oldestFirst(others).slice(0, excess) : [];
      const connectedAtMs = Date.now();
      const value = encodeValue({ gatewayNode: input.gatewayNode, connectedAtMs });
      sent = { value, connectedAtMs, evicted };
      const response = await withRetry("register", deadline, (o) =>
        this.etcd.kv.txn(
          {
            compare: [
              {
                key: utf8(prefix),
                range_end: prefixEnd(prefix),
                target: "Mod",
                result: "Less",
                mod_revision: revision + 1,
              },
            ],
            success: [
              {
                request_put: { key: utf8(key), value, lease: leaseId.toString() },
              },
              ...evicted.map(
                (e): IRequestOp => ({
                  request_delete_range: { key: utf8(this.layout.deviceKey(e.userId, e.deviceId)) },
                }),
              ),
            ],
            failure: [],
          },
          o,
        ),
      );
      if (response.succeeded) return { connectedAtMs, evicted, revision: Number(response.header.revision) };
    }
    throw new StoreError(
      "unavailable",
      "register: too many concurrent changes to this user's devices; retry",
    );
  }

  /** The user's entries, the revision they were read at, and the raw kv of `key` (the device itself). */
  private async readUser(
    userId: string,
    key: string,
    deadline: Deadline,
  ): Promise<{ entries: DeviceEntry[]; revision: number; own: IKeyValue | undefined }> {
    const { kvs, revision } = await this.userDevices(userId, deadline);
    return {
      entries: kvs.flatMap((kv) => entryFromKv(this.layout, kv) ?? []),
      revision,
      own: kvs.find((kv) => kv.key.toString("utf8") === key),
    };
  }

  private revokeQuietly(leaseId: bigint): void {
    this.etcd.leaseClient
      .leaseRevoke({ ID: leaseId.toString() }, { deadline: Date.now() + 2_000 })
      .catch(() => {});
  }

  /** One keep-alive (the service holds no leases); answers the TTL left after it. */
  async renew(leaseId: bigint, options?: CallOptions): Promise<{ ttlSeconds: number }> {
    const response = await withRetry("renew", this.deadline(options), (o) => this.keepAliveOnce(leaseId, o));
    if (Number(response.TTL) <= 0) throw notFoundLease(leaseId);
    return { ttlSeconds: Number(response.TTL) };
  }

  private async keepAliveOnce(leaseId: bigint, o: GrpcCallOptions): Promise<{ TTL: string }> {
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

  /**
   * Removes the entry. With `gatewayNode`, the delete is a txn on the entry's mod revision as read
   * together with its value, so a newer registration elsewhere is never removed by a stale disconnect.
   * A delete whose answer was lost (etcd applied it, the connection dropped) is retried and then finds
   * nothing: `removed` is false although this call removed it. The state is right either way; only
   * the flag, which gateways use for logging, can under-report.
   */
  async unregister(
    input: UnregisterInput,
    options?: CallOptions,
  ): Promise<{ removed: boolean; revision?: number }> {
    const deadline = this.deadline(options);
    const key = utf8(this.layout.deviceKey(input.userId, input.deviceId));
    if (!input.gatewayNode) {
      const response = await withRetry("unregister", deadline, (o) => this.etcd.kv.deleteRange({ key }, o));
      return Number(response.deleted) > 0
        ? { removed: true, revision: Number(response.header.revision) }
        : { removed: false };
    }
    for (;;) {
      const read = await withRetry("unregister", deadline, (o) => this.etcd.kv.range({ key }, o));
      const kv = read.kvs[0];
      const entry = kv && entryFromKv(this.layout, kv);
      if (!kv || entry?.gatewayNode !== input.gatewayNode) return { removed: false };
      const response = await withRetry("unregister", deadline, (o) =>
        this.etcd.kv.txn(
          {
            compare: [{ key, target: "Mod", result: "Equal", mod_revision: kv.mod_revision }],
            success: [{ request_delete_range: { key } }],
            failure: [],
          },
          o,
        ),
      );
      if (response.succeeded) return { removed: true, revision: Number(response.header.revision) };
    }
  }

  /** Revokes the lease, removing every entry on it in one revision. */
  async revokeLease(leaseId: bigint, options?: CallOptions): Promise<{ revision: number }> {
    this.grantedTtls.delete(leaseId);
    let attempts = 0;
    const response = await withRetry("revoke lease", this.deadline(options), async (o) => {
      attempts++;
      try {
        return await this.etcd.leaseClient.leaseRevoke({ ID: leaseId.toString() }, o);
      } catch (error) {
        // After an attempt whose answer was lost, "not found" means that attempt revoked it.
        if (attempts > 1 && castGrpcError(error as Error) instanceof EtcdLeaseInvalidError) return undefined;
        throw error;
      }
    });
    return { revision: response ? Number(response.header.revision) : await this.currentRevision(options) };
  }

  /**
   * Every device of the given users at one revision, straight from etcd: the ranges go in txns of at
   * most 128, the first one fixes the revision and the rest read at it, in parallel.
   */
  async lookup(userIds: readonly string[], options?: CallOptions): Promise<Snapshot> {
    const deadline = this.deadline(options);
    const users = [...new Set(userIds)];
    if (users.length === 0) return { entries: [], revision: await this.revisionBy(deadline) };
    const chunks: string[][] = [];
    for (let i = 0; i < users.length; i += MAX_TXN_OPS) chunks.push(users.slice(i, i + MAX_TXN_OPS));
    const read = async (chunk: string[], revision?: number) => {
      const response = await withRetry("lookup", deadline, (o) =>
        this.etcd.kv.txn(
          {
            compare: [],
            success: chunk.map((user) => ({ request_range: this.userRange(user, revision) })),
            failure: [],
          },
          o,
        ),
      );
      const entries = response.responses.flatMap((r) =>
        r.response_range.kvs.flatMap((kv) => entryFromKv(this.layout, kv) ?? []),
      );
      return { entries, revision: Number(response.header.revision) };
    };
    const first = await read(chunks[0]!);
    const rest = await Promise.all(chunks.slice(1).map((chunk) => read(chunk, first.revision)));
    return { revision: first.revision, entries: [first, ...rest].flatMap((r) => r.entries) };
  }

  private userRange(userId: string, revision?: number): IRangeRequest {
    const prefix = this.layout.userPrefix(userId);
    return { key: utf8(prefix), range_end: prefixEnd(prefix), ...(revision ? { revision } : {}) };
  }

  /** Every entry at one revision, read in pages pinned to that revision. */
  async snapshot(options?: CallOptions): Promise<Snapshot> {
    const deadline = this.deadline(options);
    const end = prefixEnd(this.layout.devicesPrefix);
    let from = utf8(this.layout.devicesPrefix);
    let revision: number | undefined;
    const entries: DeviceEntry[] = [];
    for (;;) {
      const page = await withRetry("snapshot", deadline, (o) =>
        this.etcd.kv.range(
          { key: from, range_end: end, limit: SNAPSHOT_PAGE, ...(revision ? { revision } : {}) },
          o,
        ),
      );
      revision ??= Number(page.header.revision);
      for (const kv of page.kvs) {
        const entry = entryFromKv(this.layout, kv);
        if (entry) entries.push(entry);
      }
      const last = page.kvs.at(-1);
      if (!page.more || !last) return { revision, entries };
      from = Buffer.concat([last.key, Buffer.from([0])]);
    }
  }

  watch(fromRevision: number, sink: WatchSink): WatchHandle {
    return watchDevices(this.etcd, this.layout, fromRevision, sink);
  }

  /** etcd's current revision: a watch from it + 1 sees every later change. */
  currentRevision(options?: CallOptions): Promise<number> {
    return this.revisionBy(this.deadline(options));
  }

  private async revisionBy(deadline: Deadline): Promise<number> {
    const response = await withRetry("read revision", deadline, (o) =>
      this.etcd.kv.range({ key: utf8(this.layout.devicesPrefix), count_only: true }, o),
    );
    return Number(response.header.revision);
  }

  /**
   * Throws `out_of_range` if history from `revision` on is gone: compacted away, or never written here
   * because etcd's revision went backwards (a restored or replaced cluster). A client only learns a
   * revision from an answer, so one more than etcd's current revision + 1 proves such a regression.
   */
  async assertHistoryFrom(revision: number, options?: CallOptions): Promise<void> {
    const deadline = this.deadline(options);
    const current = await this.revisionBy(deadline);
    if (revision > current + 1) {
      throw new StoreError(
        "out_of_range",
        `start revision ${revision} is ahead of etcd's revision ${current}: the registry's history was reset (restored or replaced etcd); re-read and watch again`,
      );
    }
    if (revision > current) return;
    try {
      await withRetry("read history", deadline, (o) =>
        this.etcd.kv.range({ key: utf8(this.layout.devicesPrefix), count_only: true, revision }, o),
      );
    } catch (error) {
      throw toStoreError(error, "read history");
    }
  }
}

function notFoundLease(leaseId: bigint): StoreError {
  return new StoreError("not_found", `lease ${leaseId} not found (expired or revoked)`);
}

function oldestFirst(entries: DeviceEntry[]): DeviceEntry[] {
  return [...entries].sort((a, b) => a.modRevision - b.modRevision);
}
