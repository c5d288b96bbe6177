import { backoff } from "@im-core/common";
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
    // ioredis counts reconnection attempts from 1.
    retryStrategy: (attempt) => backoff(attempt - 1, 25, 1_000),
  };
}

export function createRedisClient(url: string, opts: RedisConnectOptions = {}): Redis {
  return new Redis(url, safeOptions(opts));
}

export function createRedisClusterClient(
  nodes: ClusterNode[],
  opts: RedisConnectOptions & Pick<RedisOptions, "username" | "password" | "tls"> = {},
): Cluster {
  const { enableOfflineQueue, retryStrategy, ...redisOptions } = safeOptions(opts);
  return new Cluster(nodes, {
    enableOfflineQueue,
    // A layout change nobody was redirected for (a failover between calls) is learnt within seconds.
    slotsRefreshInterval: 5_000,
    enableAutoPipelining: true,
    clusterRetryStrategy: retryStrategy,
    redisOptions: {
      ...redisOptions,
      ...(opts.username ? { username: opts.username } : {}),
      ...(opts.password ? { password: opts.password } : {}),
      ...(opts.tls ? { tls: opts.tls } : {}),
    },
  });
}

/**
 * A cluster client from seed URLs (`redis://[user:password@]host:port`, `rediss://` for TLS). The
 * seeds only serve to discover the cluster, so they must agree on credentials and TLS: every node
 * is reached the same way.
 */
export function createRedisClusterClientFromUrls(seeds: readonly string[], opts: RedisConnectOptions = {}) {
  const parsed = seeds.map((seed) => new URL(seed));
  const first = parsed[0];
  if (!first) throw new Error("a Redis Cluster needs at least one seed URL");
  const access = (url: URL) => `${url.protocol}${url.username}:${url.password}`;
  if (parsed.some((url) => access(url) !== access(first))) {
    throw new Error("the Redis Cluster seed URLs must share one scheme and one username:password");
  }
  const nodes = parsed.map((url) => ({
    host: url.hostname.replace(/^\[|\]$/g, ""),
    port: Number(url.port || 6379),
  }));
  return createRedisClusterClient(nodes, {
    ...opts,
    ...(first.username ? { username: decodeURIComponent(first.username) } : {}),
    ...(first.password ? { password: decodeURIComponent(first.password) } : {}),
    ...(first.protocol === "rediss:" ? { tls: {} } : {}),
  });
}

/** Where the counters live: one Redis server (`url`) or a Redis Cluster (`cluster`: seed URLs). */
export type RedisTarget = { readonly url: string } | { readonly cluster: readonly string[] };

/** A client for `target` with the options above. */
export function connectRedis(target: RedisTarget, opts: RedisConnectOptions = {}): Redis | Cluster {
  return "url" in target
    ? createRedisClient(target.url, opts)
    : createRedisClusterClientFromUrls(target.cluster, opts);
}

/**
 * One PING over a connection of its own, then closed: whether a single server answers someone who is not
 * sharing this process's connections. Never retried.
 */
export async function pingRedisOnce(url: string, timeoutMs: number): Promise<void> {
  const client = new Redis(url, {
    ...safeOptions({ connectTimeoutMs: timeoutMs, commandTimeoutMs: timeoutMs }),
    lazyConnect: true,
    // Without the ready check's own loop (INFO until loaded), the probe ends within its bound.
    enableReadyCheck: false,
    retryStrategy: () => null,
  });
  client.on("error", () => {}); // the failure is the rejected promise below
  try {
    await client.connect();
    await client.ping();
  } finally {
    client.disconnect();
  }
}
