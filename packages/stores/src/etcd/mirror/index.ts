export type * from "../types.js";
export { DeviceMirror, type MirrorOptions, type MirrorStats, type ViewSnapshot } from "./mirror.js";
export {
  entryFromWire,
  MAX_FEED_USERS,
  type RegistryFeedClient,
  registryFeedSource,
  type WireEvent,
  type WireLocation,
} from "./rpc-source.js";
export { Subscription, type SubscriptionOptions } from "./subscription.js";
