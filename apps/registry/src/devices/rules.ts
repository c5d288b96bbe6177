import type { DeviceEntry } from "@im-core/stores/etcd";

/** What happens to a new device beyond the limit: refused, or the oldest devices make room. */
export type DevicePolicy = "reject" | "evict_oldest";

export interface DeviceRules {
  /** Devices one user may have registered at once (REGISTRY_MAX_DEVICES). */
  maxDevices: number;
  policy: DevicePolicy;
}

/** The decision for one registration: write it (deleting `evict` in the same step), or refuse it. */
export type Decision =
  | { readonly accept: true; readonly evict: readonly DeviceEntry[] }
  | { readonly accept: false; readonly reason: string };

/**
 * Decides a registration of `deviceId` given the user's registered devices. A device already registered
 * is always accepted (a move to another gateway, a reconnect). A new one beyond `maxDevices` is refused
 * under `reject`, or accepted with the oldest devices (by the revision that wrote them) evicted under
 * `evict_oldest`, so the user ends with exactly `maxDevices`.
 */
export function decideRegistration(
  devices: readonly DeviceEntry[],
  deviceId: string,
  rules: DeviceRules,
): Decision {
  if (devices.some((d) => d.deviceId === deviceId)) return { accept: true, evict: [] };
  const excess = devices.length + 1 - rules.maxDevices;
  if (excess <= 0) return { accept: true, evict: [] };
  if (rules.policy === "reject") {
    return {
      accept: false,
      reason: `user already has ${devices.length} devices (limit ${rules.maxDevices})`,
    };
  }
  const oldestFirst = [...devices].sort((a, b) => a.modRevision - b.modRevision);
  return { accept: true, evict: oldestFirst.slice(0, excess) };
}
