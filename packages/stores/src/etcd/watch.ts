import { StoreError } from "@im-core/common";
import type { Etcd3, IEvent, IWatchResponse } from "etcd3";
import type { ChangeEvent, DeviceEntry, WatchHandle, WatchSink } from "../devices.js";
import { toStoreError } from "./client.js";
import { entryFromKv } from "./entries.js";
import type { KeyLayout } from "./keys.js";

function eventFrom(layout: KeyLayout, event: IEvent): ChangeEvent | undefined {
  const revision = Number(event.kv.mod_revision);
  if (event.type === "Put") {
    const entry = entryFromKv(layout, event.kv);
    return entry && { type: "put", entry, revision };
  }
  const ids = layout.parse(event.kv.key.toString("utf8"));
  if (!ids) return undefined;
  // Without the previous value (never expected with prev_kv on) the event still names the device.
  const previous: DeviceEntry | undefined = event.prev_kv ? entryFromKv(layout, event.prev_kv) : undefined;
  const entry = previous ?? { ...ids, gatewayNode: "", connectedAtMs: 0, leaseId: 0n, modRevision: 0 };
  return { type: "delete", entry, revision };
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
  const watcher = etcd
    .watch()
    .prefix(layout.devicesPrefix)
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
    const events = response.events.flatMap((e) => eventFrom(layout, e) ?? []);
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
    // etcd cancels a watch without a reason only when its start revision was compacted away.
    if (/canceled: *$/.test(error.message) || /compact/.test(error.message)) {
      fail(new StoreError("out_of_range", "the requested revision has been compacted", { cause: error }));
    } else {
      const mapped = toStoreError(error, "watch");
      fail(mapped instanceof Error ? mapped : new StoreError("unavailable", "watch failed"));
    }
  });
  return { close: stop };
}
