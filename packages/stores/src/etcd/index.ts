export { decodeValue, encodeValue, type StoredValue } from "./codec.js";
export { DEFAULT_ROOT, decodeSegment, encodeSegment, KeyLayout } from "./keys.js";
export {
  DeviceMirror,
  type MirrorOptions,
  type MirrorStats,
  Subscription,
  type ViewSnapshot,
} from "./mirror/index.js";
export {
  EtcdRegistryStore,
  type EtcdRegistryStoreOptions,
  type RegisterInput,
  type RegisterResult,
  type UnregisterInput,
} from "./store.js";
export type * from "./types.js";
