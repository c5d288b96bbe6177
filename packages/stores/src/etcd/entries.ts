import type { IKeyValue } from "etcd3";
import type { DeviceEntry } from "../devices.js";
import { decodeValue } from "./codec.js";
import type { KeyLayout } from "./keys.js";

export const utf8 = (s: string) => Buffer.from(s, "utf8");

/**
 * The entry an etcd key-value holds, or undefined for one that is not ours or unreadable (skipped
 * rather than failing a whole lookup; it can only come from a foreign writer).
 */
export function entryFromKv(layout: KeyLayout, kv: IKeyValue): DeviceEntry | undefined {
  const ids = layout.parse(kv.key.toString("utf8"));
  const value = decodeValue(kv.value);
  if (!ids || !value) return undefined;
  return {
    ...ids,
    gatewayNode: value.gatewayNode,
    connectedAtMs: value.connectedAtMs,
    leaseId: BigInt(kv.lease || "0"),
    modRevision: Number(kv.mod_revision),
  };
}
