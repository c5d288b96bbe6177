import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { DeviceLocation } from "@im-core/proto";
import type { DeviceEntry } from "@im-core/stores/etcd";
import { canonical, Interner } from "@im-core/stores/mirror";

/**
 * What the registry's mirror keeps per device: the `DeviceLocation` that Lookup and BatchLookup send as
 * it is, which is also the device's entry (`modRevision` beside it, `connectedAtMs` read off
 * `connectedAt`), so a device costs one object, not an entry and a message. Devices registered together
 * share their gateway node, lease and time (see {@link MirrorViews}).
 */
class MirroredLocation implements DeviceLocation, DeviceEntry {
  readonly $typeName = "im.registry.v1.DeviceLocation" as const;

  constructor(
    readonly userId: string,
    readonly deviceId: string,
    readonly gatewayNode: string,
    readonly connectedAt: Timestamp,
    readonly leaseId: bigint,
    readonly modRevision: number,
  ) {}

  /** Not a field: a number past 2^31 would cost a boxed double per device. */
  get connectedAtMs(): number {
    return Number(this.connectedAt.seconds) * 1_000 + this.connectedAt.nanos / 1_000_000;
  }
}

export type MirrorView = DeviceLocation & DeviceEntry;

/**
 * The mirror's `view` for one registry instance. Its interners are its own: one bounded set of gateway
 * nodes, leases and times per mirror, shared by every device that has them.
 */
export function mirrorViews(): (entry: DeviceEntry) => MirrorView {
  const nodes = canonical<string>();
  const leases = canonical<bigint>();
  // Messages handed out are never mutated (see MirrorOptions.view), so devices may share one.
  const times = new Interner<number, Timestamp>(timestampFromMs);
  return (entry) =>
    new MirroredLocation(
      entry.userId,
      entry.deviceId,
      nodes.get(entry.gatewayNode),
      times.get(entry.connectedAtMs),
      leases.get(entry.leaseId),
      entry.modRevision,
    );
}
