import { type EtcdServer, startEtcd } from "./etcd.js";
import { type MariaDbServer, startMariaDb } from "./mariadb.js";
import { type RedisServer, startRedis } from "./redis.js";
import { type ServiceProcess, startService } from "./service.js";

/** Both services on their own private etcd, Redis and MariaDB. */
export interface ServicePair {
  etcd: EtcdServer;
  redis: RedisServer;
  mariadb: MariaDbServer;
  registry: ServiceProcess;
  sequence: ServiceProcess;
  /** Stops everything it started. */
  dispose(): Promise<void>;
}

/**
 * Starts etcd, Redis and MariaDB, then the registry and the sequence service on them with `env` (auth,
 * CORS, limits) in common. Entries are passed in (`registryEntry` from `@im-core/registry/entry`, ...), so
 * the kit does not depend on the apps.
 */
export async function startServicePair(options: {
  registryEntry: string;
  sequenceEntry: string;
  env: Record<string, string>;
  /** Settings of one service only (REGISTRY_WATCH_BACKLOG, SEQUENCE_STEP, ...). */
  registryEnv?: Record<string, string>;
  sequenceEnv?: Record<string, string>;
}): Promise<ServicePair> {
  const [etcd, redis, mariadb] = await Promise.all([startEtcd(), startRedis(), startMariaDb()]);
  const started: { registry?: ServiceProcess; sequence?: ServiceProcess } = {};
  const dispose = async () => {
    await Promise.all([started.registry, started.sequence, etcd, redis, mariadb].map((s) => s?.dispose()));
  };
  try {
    const mysqlUrl = await mariadb.createDatabase();
    await Promise.all([
      startService({
        entry: options.registryEntry,
        env: { ...options.env, ...options.registryEnv, ETCD_ENDPOINTS: etcd.endpoints.join(",") },
      }).then((service) => {
        started.registry = service;
      }),
      startService({
        entry: options.sequenceEntry,
        env: { ...options.env, ...options.sequenceEnv, REDIS_URL: redis.url, MYSQL_URL: mysqlUrl },
      }).then((service) => {
        started.sequence = service;
      }),
    ]);
  } catch (error) {
    await dispose();
    throw error;
  }
  return { etcd, redis, mariadb, registry: started.registry!, sequence: started.sequence!, dispose };
}
