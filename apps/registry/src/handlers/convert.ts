import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  type DeviceLocation,
  DeviceLocationSchema,
  WatchEvent_Reason,
  WatchEvent_Type,
  type WatchResponse,
  WatchResponseSchema,
} from "@im-core/proto";
import type { ChangeBatch, ChangeReason, DeviceEntry } from "@im-core/stores/etcd";

const reasons: Record<ChangeReason, WatchEvent_Reason> = {
  taken_over: WatchEvent_Reason.TAKEN_OVER,
  evicted: WatchEvent_Reason.EVICTED,
  lease_ended: WatchEvent_Reason.LEASE_ENDED,
  unregistered: WatchEvent_Reason.UNREGISTERED,
};

export function toLocation(entry: DeviceEntry): DeviceLocation {
  return create(DeviceLocationSchema, {
    userId: entry.userId,
    deviceId: entry.deviceId,
    gatewayNode: entry.gatewayNode,
    connectedAt: timestampFromMs(entry.connectedAtMs),
    leaseId: entry.leaseId,
  });
}

/** Sorted by user, then device, so answers do not depend on map or etcd order. */
export function toLocations(entries: readonly DeviceEntry[]): DeviceLocation[] {
  return [...entries]
    .sort((a, b) => compare(a.userId, b.userId) || compare(a.deviceId, b.deviceId))
    .map(toLocation);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function toWatchResponse(batch: ChangeBatch): WatchResponse {
  return create(WatchResponseSchema, {
    revision: BigInt(batch.revision),
    events: batch.events.map((event) => ({
      type: event.type === "put" ? WatchEvent_Type.PUT : WatchEvent_Type.DELETE,
      location: toLocation(event.entry),
      revision: BigInt(event.revision),
      reason: event.reason ? reasons[event.reason] : WatchEvent_Reason.UNSPECIFIED,
      ...(event.previous ? { previous: toLocation(event.previous) } : {}),
    })),
  });
}
