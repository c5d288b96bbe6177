import { registryEntry } from "@im-core/registry/entry";
import { sequenceEntry } from "@im-core/sequence/entry";
import {
  type EtcdCluster,
  type MariaDbServer,
  type RedisServer,
  type ServiceProcess,
  startEtcdCluster,
  startMariaDb,
  startRedis,
  startService,
  startTcpProxy,
  type TcpProxy,
} from "@im-core/testkit";

/** One token per role; gateway tokens may act for any gateway node. */
export const tokens = {
  gateway: "chaos-gateway-token-0123456789abcdef",
  router: "chaos-router-token-0123456789abcdef",
} as const;

const AUTH_TOKENS = `${tokens.gateway}:gateway@*,${tokens.router}:router`;

/**
 * Another build of a service to run instead of this workspace's (the absolute path of its `dist/main.js`),
 * e.g. an older commit's, to see the checker catch a bug that commit had.
 */
const entries = {
  registry: process.env.CHAOS_REGISTRY_ENTRY || registryEntry,
  sequence: process.env.CHAOS_SEQUENCE_ENTRY || sequenceEntry,
};

/** What every service instance gets besides its backends. */
const serviceEnv = {
  AUTH_TOKENS,
  // A SIGTERM fault should not cost the run 10 s of drain per instance.
  SHUTDOWN_GRACE_MS: "2000",
  // Leases the run grants live 60 s; the default TTL is only for Register without a lease.
  REGISTRY_TTL_SECONDS: "60",
};

export interface RegistryInstance {
  index: number;
  service: ServiceProcess;
  /** One proxy per etcd member, in member order: a partition cuts all three. */
  etcdProxies: TcpProxy[];
}

export interface SequenceInstance {
  index: number;
  service: ServiceProcess;
  redisProxy: TcpProxy;
  mysqlProxy: TcpProxy;
}

/**
 * The deployment under test, all on loopback: a 3-member etcd cluster, two Redis servers (the one behind
 * the proxies serves; the other is the stale copy and failover target), MariaDB, two instances of each
 * service. Each instance reaches its backends through proxies of its own, so one instance can be cut off
 * while the other keeps serving, and a failover moves every sequence instance at once.
 */
export class Deployment {
  private constructor(
    readonly etcd: EtcdCluster,
    /** [serving, standby]; a failover swaps them. */
    private redisPair: [RedisServer, RedisServer],
    readonly mariadb: MariaDbServer,
    readonly registries: RegistryInstance[],
    readonly sequences: SequenceInstance[],
  ) {}

  static async start(): Promise<Deployment> {
    // Default (slower) etcd timing: on a loaded 2-core machine 100 ms elections would fire on their own.
    const [etcd, redisA, redisB, mariadb] = await Promise.all([
      startEtcdCluster({ size: 3, fast: false }),
      startRedis(),
      startRedis(),
      startMariaDb(),
    ]);
    const mysqlUrl = new URL(await mariadb.createDatabase());
    const proxied = (port: number) => startTcpProxy(port);

    const registries = await Promise.all(
      [0, 1].map(async (index): Promise<RegistryInstance> => {
        const etcdProxies = await Promise.all(etcd.nodes.map((node) => proxied(node.port)));
        const service = await startService({
          entry: entries.registry,
          name: `registry-${index}`,
          env: { ...serviceEnv, ETCD_ENDPOINTS: etcdProxies.map((p) => p.endpoint).join(",") },
        });
        return { index, service, etcdProxies };
      }),
    );
    // One at a time: both would run the MySQL migrations at once.
    const sequences: SequenceInstance[] = [];
    for (const index of [0, 1]) {
      const [redisProxy, mysqlProxy] = await Promise.all([proxied(redisA.port), proxied(mariadb.port)]);
      const url = new URL(mysqlUrl);
      url.port = String(mysqlProxy.port);
      const service = await startService({
        entry: entries.sequence,
        name: `sequence-${index}`,
        env: { ...serviceEnv, REDIS_URL: `redis://127.0.0.1:${redisProxy.port}`, MYSQL_URL: url.toString() },
      });
      sequences.push({ index, service, redisProxy, mysqlProxy });
    }
    return new Deployment(etcd, [redisA, redisB], mariadb, registries, sequences);
  }

  /** The Redis server the sequence instances currently reach. */
  get redis(): RedisServer {
    return this.redisPair[0];
  }

  /** The other one: the stale copy, the failover target. */
  get standbyRedis(): RedisServer {
    return this.redisPair[1];
  }

  /** Points every sequence instance at the standby (dropping their connections) and makes it the serving one. */
  failOver(): void {
    const [serving, standby] = this.redisPair;
    for (const instance of this.sequences) instance.redisProxy.switchTo(standby.port);
    this.redisPair = [standby, serving];
  }

  registryUrls(): string[] {
    return this.registries.map((r) => r.service.url);
  }

  sequenceUrls(): string[] {
    return this.sequences.map((s) => s.service.url);
  }

  /** Every proxy back to accepting, every process running: what "all faults healed" means. */
  async healAll(): Promise<void> {
    for (const r of this.registries) for (const p of r.etcdProxies) p.restore();
    for (const s of this.sequences) {
      s.redisProxy.restore();
      s.mysqlProxy.restore();
    }
    const down = [
      ...this.etcd.nodes,
      ...this.redisPair,
      this.mariadb,
      ...this.registries.map((r) => r.service),
      ...this.sequences.map((s) => s.service),
    ].filter((p) => p.pid === undefined);
    await Promise.all(down.map((p) => p.restart()));
  }

  async dispose(): Promise<void> {
    const services = [...this.registries.map((r) => r.service), ...this.sequences.map((s) => s.service)];
    await Promise.allSettled(services.map((s) => s.dispose()));
    const proxies = [
      ...this.registries.flatMap((r) => r.etcdProxies),
      ...this.sequences.flatMap((s) => [s.redisProxy, s.mysqlProxy]),
    ];
    await Promise.allSettled(proxies.map((p) => p.close()));
    await Promise.allSettled([
      this.etcd.dispose(),
      ...this.redisPair.map((r) => r.dispose()),
      this.mariadb.dispose(),
    ]);
  }
}
