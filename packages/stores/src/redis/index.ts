export type { ClusterNode } from "ioredis";
export {
  connectRedis,
  createRedisClient,
  createRedisClusterClient,
  createRedisClusterClientFromUrls,
  pingRedisOnce,
  type RedisConnectOptions,
  type RedisTarget,
} from "./connect.js";
export {
  type ApplyReply,
  type BehindReply,
  type CounterState,
  type GrantReply,
  type NextReply,
  type RedisConnection,
  RedisSequenceStore,
  type Ticket,
} from "./sequence-store.js";
