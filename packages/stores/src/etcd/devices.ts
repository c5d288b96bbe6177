import type { Etcd3, IRequestOp } from "etcd3";
import type { DeviceEntry, DeviceSnapshot } from "../devices.js";
import { type Deadline, withRetry } from "./client.js";
import { encodeValue } from "./codec.js";
import { entryFromKv, utf8 } from "./entries.js";
import { type KeyLayout, prefixEnd } from "./keys.js";

/** One device's entry, written only if the user's devices are as the caller saw them. */
export interface DeviceWrite {
  userId: string;
  deviceId: string;
  gatewayNode: string;
  connectedAtMs: number;
  leaseId: bigint;
  /** Other entries of the same user, deleted in the same transaction (the device policy's evictions). */
  evict: readonly DeviceEntry[];
  /** The revision the caller's view of the user's devices is from: no key under the user may have changed since. */
  unchangedSince: number;
}

export type WriteOutcome =
  | { readonly written: true; readonly revision: number }
  | { readonly written: false };

export interface UnregisterInput {
  userId: string;
  deviceId: string;
  /** Remove the entry only while it points to this gateway. */
  gatewayNode?: string;
}

/** One user's devices, at the revision they were read at. */
export async function readUser(
  etcd: Etcd3,
  layout: KeyLayout,
  userId: string,
  deadline: Deadline,
): Promise<DeviceSnapshot> {
  const prefix = layout.userPrefix(userId);
  const response = await withRetry("read devices", deadline, (o) =>
    etcd.kv.range({ key: utf8(prefix), range_end: prefixEnd(prefix) }, o),
  );
  return {
    revision: Number(response.header.revision),
    entries: response.kvs.flatMap((kv) => entryFromKv(layout, kv) ?? []),
  };
}

/**
 * One etcd transaction: put the entry and delete `evict`, if no key under the user's prefix was created,
 * changed or deleted after `unchangedSince`. Whatever rule decided the write (a device limit), it holds
 * under any concurrency: a write decided on an outdated view fails and the caller decides again.
 *
 * A retried attempt whose predecessor committed with its answer lost fails its compare on that very
 * write; finding our own value in place tells the two apart, so the caller is answered what happened.
 */
export async function writeDevice(
  etcd: Etcd3,
  layout: KeyLayout,
  write: DeviceWrite,
  deadline: Deadline,
): Promise<WriteOutcome> {
  const key = utf8(layout.deviceKey(write.userId, write.deviceId));
  const prefix = layout.userPrefix(write.userId);
  const value = encodeValue({ gatewayNode: write.gatewayNode, connectedAtMs: write.connectedAtMs });
  const lease = write.leaseId.toString();
  let attempts = 0;
  const response = await withRetry("register", deadline, (o) => {
    attempts++;
    return etcd.kv.txn(
      {
        compare: [
          {
            key: utf8(prefix),
            range_end: prefixEnd(prefix),
            target: "Mod",
            result: "Less",
            mod_revision: write.unchangedSince + 1,
          },
        ],
        success: [
          { request_put: { key, value, lease } },
          ...write.evict.map(
            (e): IRequestOp => ({
              request_delete_range: { key: utf8(layout.deviceKey(e.userId, e.deviceId)) },
            }),
          ),
        ],
        failure: [],
      },
      o,
    );
  });
  if (response.succeeded) return { written: true, revision: Number(response.header.revision) };
  if (attempts > 1) {
    const own = (await withRetry("register", deadline, (o) => etcd.kv.range({ key }, o))).kvs[0];
    if (own && own.lease === lease && own.value.equals(value)) {
      return { written: true, revision: Number(own.mod_revision) };
    }
  }
  return { written: false };
}

/**
 * Removes the entry. With `gatewayNode`, the delete is a txn on the entry's mod revision as read
 * together with its value, so a newer registration elsewhere is never removed by a stale disconnect.
 * A delete whose answer was lost (etcd applied it, the connection dropped) is retried and then finds
 * nothing: `removed` is false although this call removed it. The state is right either way; only
 * the flag, which gateways use for logging, can under-report.
 */
export async function unregister(
  etcd: Etcd3,
  layout: KeyLayout,
  input: UnregisterInput,
  deadline: Deadline,
): Promise<{ removed: boolean; revision?: number }> {
  const key = utf8(layout.deviceKey(input.userId, input.deviceId));
  if (!input.gatewayNode) {
    const response = await withRetry("unregister", deadline, (o) => etcd.kv.deleteRange({ key }, o));
    return Number(response.deleted) > 0
      ? { removed: true, revision: Number(response.header.revision) }
      : { removed: false };
  }
  for (;;) {
    const read = await withRetry("unregister", deadline, (o) => etcd.kv.range({ key }, o));
    const kv = read.kvs[0];
    const entry = kv && entryFromKv(layout, kv);
    if (!kv || entry?.gatewayNode !== input.gatewayNode) return { removed: false };
    const response = await withRetry("unregister", deadline, (o) =>
      etcd.kv.txn(
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
