export type { ClusterNode } from "ioredis";
export {
  createRedisClient,
  createRedisClusterClient,
  createRedisClusterClientFromUrls,
  type RedisConnectOptions,
} from "./connect.js";
export {
  type ApplyReply,
  type CounterState,
  type GrantReply,
  type NextReply,
  type RedisConnection,
  RedisSequenceStore,
  type Ticket,
} from "./sequence-store.js";
