/**
 * The local backing services: etcd, Redis and MariaDB on their default ports with data kept under
 * infra/local/data (gitignored). The same launch code as the tests' (packages/testkit), with fixed
 * ports and persistent data instead of free ports and temporary dirs.
 */
import path from "node:path";
import {
  type EtcdServer,
  type MariaDbServer,
  type RedisServer,
  startEtcd,
  startMariaDb,
  startRedis,
} from "@im-core/testkit";

export const dataRoot = path.resolve(import.meta.dirname, "data");

export interface LocalBackends {
  etcd: EtcdServer;
  redis: RedisServer;
  mariadb: MariaDbServer;
  env: Record<string, string>;
  stop(): Promise<void>;
}

export const localPorts = { etcd: 2379, etcdPeer: 2380, redis: 6379, mariadb: 3306 } as const;

export async function startLocalBackends(): Promise<LocalBackends> {
  const [etcd, redis, mariadb] = await Promise.all([
    startEtcd({
      fast: false,
      port: localPorts.etcd,
      peerPort: localPorts.etcdPeer,
      dataDir: path.join(dataRoot, "etcd"),
    }),
    startRedis({
      port: localPorts.redis,
      dataDir: path.join(dataRoot, "redis"),
      // Dev data survives restarts; the sequence service needs no Redis persistence to be correct.
      persistence: true,
    }),
    startMariaDb({ port: localPorts.mariadb, dataDir: path.join(dataRoot, "mariadb") }),
  ]);
  const mysqlUrl = await mariadb.createDatabase("im");
  return {
    etcd,
    redis,
    mariadb,
    env: { ETCD_ENDPOINTS: etcd.endpoints.join(","), REDIS_URL: redis.url, MYSQL_URL: mysqlUrl },
    async stop() {
      await Promise.all([etcd.stop(), redis.stop(), mariadb.stop()]);
      await Promise.all([etcd.dispose(), redis.dispose(), mariadb.dispose()]);
    },
  };
}
