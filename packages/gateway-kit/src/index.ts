/**
 * The gateway's client kit: a sequence client that merges concurrent next() calls into BatchNext, and a
 * session that keeps one shared registry lease per gateway node alive and its devices registered.
 * The router's device mirror is in `@im-core/gateway-kit/router`. See README.md.
 */
export {
  BatchingSequenceClient,
  type BatchingSequenceOptions,
  type NextOptions,
  type SequenceRange,
} from "./sequence/batching-client.js";
export { type ConversationInit, conversationKey, group, privateChat } from "./sequence/conversation.js";
export { type BatchRegistrarOptions, registerInBatches } from "./session/batch-registrar.js";
export type { DropEvent, DropFeed, DropReason, DropSink, SessionEvents } from "./session/events.js";
export { GatewaySession, type GatewaySessionOptions } from "./session/gateway-session.js";
export {
  type BulkRegistrar,
  type Device,
  type RegisterOutcome,
  registerOneByOne,
} from "./session/registrar.js";
export { watchOwnDrops } from "./session/watch-drops.js";
