export type { ClusterNode } from "ioredis";
export { createRedisClient, createRedisClusterClient, type RedisConnectOptions } from "./connect.js";
export {
  type ApplyReply,
  type CounterState,
  type NextReply,
  type RedisConnection,
  RedisSequenceStore,
  type Ticket,
} from "./sequence-store.js";
