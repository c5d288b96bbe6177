import type { DeviceLocation } from "@im-core/proto";
import { DeviceMirror, type MirrorOptions, type MirrorSource } from "@im-core/stores/etcd";
import { toLocation } from "./handlers/convert.js";

/** The registry's mirror: each entry carries its `DeviceLocation`, built once when the entry is applied. */
export type RegistryMirror = DeviceMirror<DeviceLocation>;

/** A mirror whose views are the ready-to-send `DeviceLocation` messages Lookup and BatchLookup answer. */
export function registryMirror(
  source: MirrorSource,
  options: Omit<MirrorOptions<DeviceLocation>, "view"> = {},
): RegistryMirror {
  return new DeviceMirror(source, { ...options, view: toLocation });
}
