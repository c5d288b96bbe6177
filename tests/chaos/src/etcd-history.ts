import { decodeValue, KeyLayout } from "@im-core/stores/etcd";
import { Etcd3, type IEvent } from "etcd3";
import type { WatchEventRecord } from "./history.js";

const layout = new KeyLayout();
const SENTINEL = "/chaos/sentinel";

export interface EtcdHistory {
  /** Every device event from `fromRevision` on, as etcd recorded it, in revision order. */
  events: WatchEventRecord[];
  /** The revision of the sentinel write: every revision below it is in `events` (device keys only). */
  endRevision: number;
}

function toRecord(event: IEvent): WatchEventRecord | undefined {
  const ids = layout.parse(event.kv.key.toString("utf8"));
  if (!ids) return undefined;
  const isDelete = String(event.type) === "Delete" || Number(event.type) === 1;
  // A DELETE names what was removed: the previous value and lease, as the service's events do.
  const source = isDelete ? event.prev_kv : event.kv;
  return {
    revision: Number(event.kv.mod_revision),
    type: isDelete ? "delete" : "put",
    userId: ids.userId,
    deviceId: ids.deviceId,
    gatewayNode: source ? (decodeValue(source.value)?.gatewayNode ?? "") : "",
    leaseId: source ? String(source.lease ?? "0") : "0",
  };
}

/**
 * etcd's own record of every device change from `fromRevision` on, read with a watch from that revision
 * (nothing compacts during a run, so the history is all there). A sentinel write outside the device prefix
 * marks the end, so the read knows it has every revision before it, device events or not.
 */
export async function readEtcdHistory(
  endpoints: string[],
  fromRevision: number,
  timeoutMs = 60_000,
): Promise<EtcdHistory> {
  const client = new Etcd3({ hosts: endpoints });
  try {
    const put = await client.put(SENTINEL).value(String(Date.now())).exec();
    const endRevision = Number(put.header.revision);
    const events: WatchEventRecord[] = [];
    const watcher = await client
      .watch()
      .prefix("/")
      .startRevision(String(Math.max(1, fromRevision)))
      .withPreviousKV()
      .create();
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`etcd history not read up to ${endRevision} in ${timeoutMs} ms`)),
          timeoutMs,
        );
        watcher.on("data", (response) => {
          for (const event of response.events) {
            if (Number(event.kv.mod_revision) >= endRevision) {
              clearTimeout(timer);
              resolve();
              return;
            }
            const record = toRecord(event);
            if (record) events.push(record);
          }
        });
        watcher.on("error", (error) => {
          clearTimeout(timer);
          reject(error);
        });
      });
    } finally {
      await watcher.cancel();
    }
    return { events, endRevision };
  } finally {
    client.close();
  }
}
