import { create } from "@bufbuild/protobuf";
import { type Timestamp, TimestampSchema } from "@bufbuild/protobuf/wkt";
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
  // Messages handed out are never mutated (see MirrorOptions.view), so devices may share one. Devices
  // registered one by one rarely share a millisecond, but many share a second: its bigint, then.
  const seconds = new Interner((second: number) => BigInt(second));
  const times = new Interner(
    (ms: number): Timestamp =>
      create(TimestampSchema, {
        seconds: seconds.get(Math.floor(ms / 1_000)),
        nanos: (ms - Math.floor(ms / 1_000) * 1_000) * 1_000_000,
      }),
  );
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
