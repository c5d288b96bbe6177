import { StoreError } from "@im-core/common";
import type { Etcd3, IEvent, IWatchResponse } from "etcd3";
import type { ChangeEvent, ChangeReason, DeviceEntry, WatchHandle, WatchSink } from "../devices.js";
import { entryFromKv } from "./entries.js";
import type { KeyLayout } from "./keys.js";

/** What else happened in one revision: the reasons of its deletes come from it. */
interface RevisionContext {
  /** Leases whose owner key was deleted: they expired or were revoked in this revision. */
  endedLeases: Set<bigint>;
  /** Users with a device put in this revision: a delete beside one is the device limit's eviction. */
  putUsers: Set<string>;
}

function contextsOf(layout: KeyLayout, events: readonly IEvent[]): Map<number, RevisionContext> {
  const contexts = new Map<number, RevisionContext>();
  for (const event of events) {
    const revision = Number(event.kv.mod_revision);
    let context = contexts.get(revision);
    if (!context) {
      context = { endedLeases: new Set(), putUsers: new Set() };
      contexts.set(revision, context);
    }
    const key = event.kv.key.toString("utf8");
    if (event.type === "Put") {
      const ids = layout.parse(key);
      if (ids) context.putUsers.add(ids.userId);
    } else {
      const lease = layout.parseLease(key);
      if (lease !== undefined) context.endedLeases.add(lease);
    }
  }
  return contexts;
}

function eventFrom(
  layout: KeyLayout,
  event: IEvent,
  context: RevisionContext | undefined,
): ChangeEvent | undefined {
  const revision = Number(event.kv.mod_revision);
  if (event.type === "Put") {
    const entry = entryFromKv(layout, event.kv);
    if (!entry) return undefined;
    const previous = event.prev_kv ? entryFromKv(layout, event.prev_kv) : undefined;
    if (!previous) return { type: "put", entry, revision };
    const reason: ChangeReason | undefined =
      previous.gatewayNode !== entry.gatewayNode ? "taken_over" : undefined;
    return { type: "put", entry, revision, previous, reason };
  }
  const ids = layout.parse(event.kv.key.toString("utf8"));
  if (!ids) return undefined;
  // Without the previous value (never expected with prev_kv on) the event still names the device.
  const previous: DeviceEntry | undefined = event.prev_kv ? entryFromKv(layout, event.prev_kv) : undefined;
  const entry = previous ?? { ...ids, gatewayNode: "", connectedAtMs: 0, leaseId: 0n, modRevision: 0 };
  const reason: ChangeReason = context?.endedLeases.has(entry.leaseId)
    ? "lease_ended"
    : context?.putUsers.has(entry.userId)
      ? "evicted"
      : "unregistered";
  return { type: "delete", entry, revision, reason };
}

/**
 * The watch response each client's etcd3 is handling right now. etcd3 turns a cancelled watch into an
 * error that keeps only `cancel_reason`, and etcd leaves that empty both when the start revision was
 * compacted away (it then sets `compact_revision`) and when it confirms a cancel request: the error alone
 * cannot tell a lost history from a watch that only has to be resumed.
 */
const handling = new WeakMap<Etcd3, IWatchResponse>();
const reading = new WeakSet<Etcd3>();

/**
 * Sees every watch response of `etcd` just before etcd3 handles it, so a cancellation can be read whole.
 * Wraps the stream opener (first watch and every reconnect): our listener is on before etcd3's, and
 * before etcd3 sends its first request, so no response goes unseen.
 */
function readWatchResponses(etcd: Etcd3): void {
  if (reading.has(etcd)) return;
  reading.add(etcd);
  const client = etcd.watchClient;
  const open = client.watch.bind(client);
  client.watch = async (...args: Parameters<typeof open>) => {
    const stream = await open(...args);
    stream.on("data", (response: IWatchResponse) => handling.set(etcd, response));
    return stream;
  };
}

/** How a watch etcd cancelled ends: `out_of_range` only when etcd says its history was compacted. */
function cancellationError(response: IWatchResponse | undefined, cause: Error): StoreError {
  const compactRevision = Number(response?.compact_revision ?? 0);
  if (compactRevision > 0) {
    return new StoreError(
      "out_of_range",
      `the requested revision has been compacted (etcd keeps history from revision ${compactRevision})`,
      { cause },
    );
  }
  // No history was lost (a confirmed cancel request, a permission check): resuming from the last
  // delivered revision is safe, and a resume etcd cannot serve is refused as compacted then.
  const reason = response?.cancel_reason || "no reason given";
  return new StoreError("unavailable", `etcd cancelled the watch (${reason}): resume it`, { cause });
}

/**
 * Follows every device key from `fromRevision` on, through the etcd3 client's shared watch stream (one
 * gRPC stream per client, however many watches). The client reconnects by itself; we pin the resume
 * point to the last event we delivered, because etcd3 moves it to the header revision, which during a
 * catch-up can run ahead of the events actually sent.
 */
export function watchDevices(
  etcd: Etcd3,
  layout: KeyLayout,
  fromRevision: number,
  sink: WatchSink,
): WatchHandle {
  let next = fromRevision;
  let closed = false;
  readWatchResponses(etcd);
  const watcher = etcd
    .watch()
    // The whole root, not only devices: a lease's owner key goes in the same revision as the entries on
    // it, which is how a delete by expiry or revoke is told from an unregister.
    .prefix(layout.root)
    .withPreviousKV()
    .startRevision(String(fromRevision))
    .watcher();

  const stop = () => {
    closed = true;
    watcher.removeAllListeners();
    watcher.on("error", () => {});
    watcher.cancel().catch(() => {});
  };
  const fail = (error: Error) => {
    if (closed) return;
    stop();
    sink.error(error);
  };

  watcher.on("data", (response: IWatchResponse) => {
    // An empty response is a progress notification; etcd may send it mid catch-up, so it proves nothing.
    if (closed || response.events.length === 0) return;
    const contexts = contextsOf(layout, response.events);
    const events = response.events.flatMap(
      (e) => eventFrom(layout, e, contexts.get(Number(e.kv.mod_revision))) ?? [],
    );
    const revision = Number(response.events.at(-1)!.kv.mod_revision);
    next = revision + 1;
    if (events.length > 0) sink.batch({ revision, events });
  });
  watcher.on("connected", (response: IWatchResponse) => {
    if (closed) return;
    if (Number(response.header.revision) < next - 1) {
      fail(new StoreError("out_of_range", "etcd's revision went backwards (restored or replaced cluster)"));
      return;
    }
    sink.connection?.(true);
  });
  watcher.on("disconnected", () => {
    if (closed) return;
    watcher.request.start_revision = String(next);
    sink.connection?.(false);
  });
  watcher.on("error", (error: Error) => {
    // etcd3 emits "error" only while handling this watcher's cancellation: the response seen last.
    const response = handling.get(etcd);
    fail(cancellationError(response?.canceled ? response : undefined, error));
  });
  return { close: stop };
}
