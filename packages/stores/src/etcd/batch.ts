import type { Etcd3, ICompare, IRequestOp } from "etcd3";
import type { DeviceEntry } from "../devices.js";
import { type Deadline, withRetry } from "./client.js";
import { encodeValue } from "./codec.js";
import { entryFromKv, utf8 } from "./entries.js";
import { type KeyLayout, prefixEnd } from "./keys.js";

/** etcd's default `--max-txn-ops`: the most compares, and the most ops per branch, of one txn. */
export const MAX_TXN_OPS = 128;

/** One user's part of a batch txn, decided on a view of the user's devices at `unchangedSince`. */
export interface UserWrite {
  userId: string;
  unchangedSince: number;
  /** Devices to put on the batch's gateway node and lease. */
  put: readonly string[];
  /** Other entries of the user to delete (the device limit's evictions). */
  evict: readonly DeviceEntry[];
  /** Entries acknowledged without a write (already on this node and lease): they must still be in place. */
  keep: readonly DeviceEntry[];
}

/** Several users' writes on one gateway node and lease, made in one etcd txn. */
export interface BatchWrite {
  gatewayNode: string;
  leaseId: bigint;
  connectedAtMs: number;
  users: readonly UserWrite[];
}

export type BatchOutcome =
  | { readonly written: true; readonly revision: number }
  /** A user changed since its view: nothing was written, and `views` holds every user's devices now. */
  | { readonly written: false; readonly revision: number; readonly views: Map<string, DeviceEntry[]> };

/** The txn's size in etcd's terms (compares, success ops, failure ops): each must stay ≤ MAX_TXN_OPS. */
export function txnSize(user: UserWrite): { compares: number; success: number; failure: number } {
  return { compares: 1 + user.keep.length, success: user.put.length + user.evict.length, failure: 1 };
}

/**
 * One etcd txn for several users: each user's puts and evictions apply only if no key under that user was
 * created or changed after its view, and each kept entry is still the one seen. Users do not depend on
 * each other, but a txn is all or nothing, so one user's change fails them all: the failure branch then
 * reads every user's devices, so the caller decides again without another round trip. A retried attempt
 * whose predecessor committed with its answer lost fails on its own writes and reads them back: the
 * caller finds those devices in place and acknowledges them.
 */
export async function writeUsers(
  etcd: Etcd3,
  layout: KeyLayout,
  write: BatchWrite,
  deadline: Deadline,
): Promise<BatchOutcome> {
  const value = encodeValue({ gatewayNode: write.gatewayNode, connectedAtMs: write.connectedAtMs });
  const lease = write.leaseId.toString();
  const compare: ICompare[] = [];
  const success: IRequestOp[] = [];
  const failure: IRequestOp[] = [];
  for (const user of write.users) {
    const prefix = layout.userPrefix(user.userId);
    compare.push({
      key: utf8(prefix),
      range_end: prefixEnd(prefix),
      target: "Mod",
      result: "Less",
      mod_revision: user.unchangedSince + 1,
    });
    for (const kept of user.keep) {
      const key = utf8(layout.deviceKey(kept.userId, kept.deviceId));
      // A deleted key compares as mod revision 0: the kept entry must not have gone since it was seen.
      compare.push({ key, target: "Mod", result: "Equal", mod_revision: kept.modRevision });
    }
    for (const deviceId of user.put) {
      success.push({ request_put: { key: utf8(layout.deviceKey(user.userId, deviceId)), value, lease } });
    }
    for (const evicted of user.evict) {
      success.push({
        request_delete_range: { key: utf8(layout.deviceKey(evicted.userId, evicted.deviceId)) },
      });
    }
    failure.push({ request_range: { key: utf8(prefix), range_end: prefixEnd(prefix) } });
  }
  const response = await withRetry("batch register", deadline, (o) =>
    etcd.kv.txn({ compare, success, failure }, o),
  );
  const revision = Number(response.header.revision);
  if (response.succeeded) return { written: true, revision };
  const views = new Map<string, DeviceEntry[]>();
  write.users.forEach((user, i) => {
    const kvs = response.responses[i]?.response_range?.kvs ?? [];
    views.set(
      user.userId,
      kvs.flatMap((kv) => entryFromKv(layout, kv) ?? []),
    );
  });
  return { written: false, revision, views };
}
