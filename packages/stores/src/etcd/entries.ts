import type { IKeyValue } from "etcd3";
import type { DeviceEntry } from "../devices.js";
import type { Interner } from "../interner.js";
import { decodeValue } from "./codec.js";
import type { KeyLayout } from "./keys.js";

export const utf8 = (s: string) => Buffer.from(s, "utf8");

/**
 * The entry an etcd key-value holds, or undefined for one that is not ours or unreadable (skipped
 * rather than failing a whole lookup; it can only come from a foreign writer). `leases` shares one bigint
 * per lease between the entries of a large read.
 */
export function entryFromKv(
  layout: KeyLayout,
  kv: IKeyValue,
  leases?: Interner<string, bigint>,
): DeviceEntry | undefined {
  const ids = layout.parse(kv.key.toString("utf8"));
  const value = decodeValue(kv.value);
  if (!ids || !value) return undefined;
  // Named fields, not a spread of `ids`: every entry gets one shape, built without a generic copy.
  return {
    userId: ids.userId,
    deviceId: ids.deviceId,
    gatewayNode: value.gatewayNode,
    connectedAtMs: value.connectedAtMs,
    leaseId: leases ? leases.get(kv.lease) : BigInt(kv.lease || "0"),
    modRevision: Number(kv.mod_revision),
  };
}
