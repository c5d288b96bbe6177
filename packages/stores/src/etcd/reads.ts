import { StoreError } from "@im-core/common";
import type { Etcd3, IRangeRequest } from "etcd3";
import type { DeviceEntry, DeviceSnapshot } from "../devices.js";
import { Interner } from "../interner.js";
import { type Deadline, toStoreError, withRetry } from "./client.js";
import { entryFromKv, utf8 } from "./entries.js";
import { type KeyLayout, prefixEnd } from "./keys.js";

/** A range or txn can carry at most this many operations with etcd's default `--max-txn-ops`. */
const MAX_TXN_OPS = 128;
const SNAPSHOT_PAGE = 5_000;
const ZERO = Buffer.from([0]);

/**
 * Every device of the given users at one revision: the ranges go in txns of at most 128, the first
 * one fixes the revision and the rest read at it, in parallel.
 */
export async function lookup(
  etcd: Etcd3,
  layout: KeyLayout,
  userIds: readonly string[],
  deadline: Deadline,
): Promise<DeviceSnapshot> {
  const users = [...new Set(userIds)];
  if (users.length === 0) return { entries: [], revision: await currentRevision(etcd, layout, deadline) };
  const chunks: string[][] = [];
  for (let i = 0; i < users.length; i += MAX_TXN_OPS) chunks.push(users.slice(i, i + MAX_TXN_OPS));
  const userRange = (userId: string, revision?: number): IRangeRequest => {
    const prefix = layout.userPrefix(userId);
    return { key: utf8(prefix), range_end: prefixEnd(prefix), ...(revision ? { revision } : {}) };
  };
  const read = async (chunk: string[], revision?: number) => {
    const response = await withRetry("lookup", deadline, (o) =>
      etcd.kv.txn(
        {
          compare: [],
          success: chunk.map((user) => ({ request_range: userRange(user, revision) })),
          failure: [],
        },
        o,
      ),
    );
    const entries = response.responses.flatMap((r) =>
      r.response_range.kvs.flatMap((kv) => entryFromKv(layout, kv) ?? []),
    );
    return { entries, revision: Number(response.header.revision) };
  };
  const first = await read(chunks[0]!);
  const rest = await Promise.all(chunks.slice(1).map((chunk) => read(chunk, first.revision)));
  return { revision: first.revision, entries: [first, ...rest].flatMap((r) => r.entries) };
}

/**
 * Every entry at one revision, read in pages pinned to that revision, each handed to `onPage` when
 * given (then `entries` stays empty). Each page has a deadline of its
 * own (`deadline()` is asked once per page): a snapshot of a million entries takes longer than one
 * call may, and a whole-snapshot deadline would make it fail, and retry, forever.
 */
export async function snapshot(
  etcd: Etcd3,
  layout: KeyLayout,
  deadline: () => Deadline,
  onPage?: (entries: readonly DeviceEntry[]) => void,
): Promise<DeviceSnapshot> {
  const end = prefixEnd(layout.devicesPrefix);
  const read = (from: Buffer, revision?: number) =>
    withRetry("snapshot", deadline(), (o) =>
      etcd.kv.range(
        { key: from, range_end: end, limit: SNAPSHOT_PAGE, ...(revision ? { revision } : {}) },
        o,
      ),
    );
  // Thousands of entries share a lease: one bigint each, not one per entry.
  const leases = new Interner((lease: string) => BigInt(lease || "0"));
  const entries: DeviceEntry[] = [];
  let page = await read(utf8(layout.devicesPrefix));
  const revision = Number(page.header.revision);
  for (;;) {
    const last = page.kvs.at(-1);
    // The next page is asked for before this one is decoded: etcd reads it while this process decodes.
    const next = page.more && last ? read(Buffer.concat([last.key, ZERO]), revision) : undefined;
    // Awaited below, unless decoding this page throws first: then its failure must not go unhandled.
    next?.catch(() => {});
    const decoded = onPage ? [] : entries;
    for (const kv of page.kvs) {
      const entry = entryFromKv(layout, kv, leases);
      if (entry) decoded.push(entry);
    }
    onPage?.(decoded);
    if (!next) return { revision, entries };
    page = await next;
  }
}

/** etcd's current revision: a watch from it + 1 sees every later change. */
export async function currentRevision(etcd: Etcd3, layout: KeyLayout, deadline: Deadline): Promise<number> {
  const response = await withRetry("read revision", deadline, (o) =>
    etcd.kv.range({ key: utf8(layout.devicesPrefix), count_only: true }, o),
  );
  return Number(response.header.revision);
}

/**
 * Throws `out_of_range` if history from `revision` on is gone: compacted away, or never written here
 * because etcd's revision went backwards (a restored or replaced cluster). A client only learns a
 * revision from an answer, so one more than etcd's current revision + 1 proves such a regression.
 */
export async function assertHistoryFrom(
  etcd: Etcd3,
  layout: KeyLayout,
  revision: number,
  deadline: Deadline,
): Promise<void> {
  const current = await currentRevision(etcd, layout, deadline);
  if (revision > current + 1) {
    throw new StoreError(
      "out_of_range",
      `start revision ${revision} is ahead of etcd's revision ${current}: the registry's history was reset (restored or replaced etcd); re-read and watch again`,
    );
  }
  if (revision > current) return;
  try {
    await withRetry("read history", deadline, (o) =>
      etcd.kv.range({ key: utf8(layout.devicesPrefix), count_only: true, revision }, o),
    );
  } catch (error) {
    throw toStoreError(error, "read history");
  }
}
