export type * from "../types.js";
export { DeviceMirror, type MirrorOptions } from "./mirror.js";
export {
  entryFromWire,
  type RegistryFeedClient,
  registryFeedSource,
  type WireEvent,
  type WireLocation,
} from "./rpc-source.js";
export { Subscription, type SubscriptionOptions } from "./subscription.js";
