export type * from "../devices.js";
export { canonical, DEFAULT_INTERNER_CAPACITY, Interner } from "../interner.js";
export {
  DEFAULT_SUBSCRIBER_BACKLOG,
  DeviceMirror,
  type MirrorOptions,
  type MirrorStats,
  type ViewSnapshot,
} from "./mirror.js";
export { entryFromWire, MAX_FEED_USERS, type RegistryFeedClient, registryFeedSource } from "./rpc-source.js";
export { Subscription, type SubscriptionOptions } from "./subscription.js";
