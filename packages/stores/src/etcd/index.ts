export type * from "../devices.js";
export { type BatchOutcome, type BatchWrite, MAX_TXN_OPS, txnSize, type UserWrite } from "./batch.js";
export { decodeValue, encodeValue, type StoredValue } from "./codec.js";
export type { DeviceWrite, UnregisterInput, WriteOutcome } from "./devices.js";
export { DEFAULT_ROOT, decodeSegment, encodeSegment, KeyLayout } from "./keys.js";
export type { LeaseGrant } from "./leases.js";
export { EtcdRegistryStore, type EtcdRegistryStoreOptions } from "./registry-store.js";
