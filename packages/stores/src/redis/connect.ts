import { Cluster, type ClusterNode, Redis, type RedisOptions } from "ioredis";

/**
 * Options that make Redis failures visible at once instead of hiding them: a command is never
 * queued while disconnected nor replayed onto a new connection (which may be a different server
 * holding stale data), and a dead or hung server fails a request within `commandTimeoutMs`.
 */
export interface RedisConnectOptions {
  commandTimeoutMs?: number;
  connectTimeoutMs?: number;
}

function safeOptions(opts: RedisConnectOptions): RedisOptions {
  return {
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
    enableAutoPipelining: true,
    connectTimeout: opts.connectTimeoutMs ?? 2_000,
    commandTimeout: opts.commandTimeoutMs ?? 2_000,
    retryStrategy: (attempt) => Math.min(25 * 2 ** attempt, 1_000),
  };
}

export function createRedisClient(url: string, opts: RedisConnectOptions = {}): Redis {
  return new Redis(url, safeOptions(opts));
}

export function createRedisClusterClient(nodes: ClusterNode[], opts: RedisConnectOptions = {}): Cluster {
  const { enableOfflineQueue, retryStrategy, ...redisOptions } = safeOptions(opts);
  return new Cluster(nodes, {
    enableOfflineQueue,
    enableAutoPipelining: true,
    clusterRetryStrategy: retryStrategy,
    redisOptions,
  });
}
