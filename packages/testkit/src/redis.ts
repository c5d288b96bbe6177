import { sleep } from "@im-core/common";
import { resolveBinary, run } from "./binaries.js";
import { ManagedServer } from "./managed-server.js";
import { HOST } from "./ports.js";
import { redisCommand } from "./resp.js";
import type { LaunchContext, ServerOptions, ServerProcess } from "./server-process.js";

/** A private Redis 7 server. */
export interface RedisServer extends ServerProcess {
  readonly host: string;
  readonly port: number;
  /** `redis://127.0.0.1:<port>`, for `REDIS_URL` or ioredis. */
  readonly url: string;
  /** Sends one command over a fresh connection; see {@link redisCommand} for how replies become text. */
  command(...args: (string | number)[]): Promise<string | null>;
  /** FLUSHALL: every key gone while the server keeps running (its run_id stays the same). */
  flushAll(): Promise<void>;
  /**
   * `REPLICAOF 127.0.0.1 <primary.port>` and waits until the replication link is up (full sync done), or
   * `REPLICAOF NO ONE` for `null` (promote back to a primary).
   */
  replicaOf(primary: RedisServer | null): Promise<void>;
}

/** Options of {@link startRedis}. */
export interface RedisOptions extends ServerOptions {
  /**
   * Default false: `--save '' --appendonly no`, so a restart loses every key (what tests of a Redis loss
   * need). True turns on the append-only file (fsync every second) for a local-dev server.
   */
  persistence?: boolean;
  /** Start as a cluster-mode node (`--cluster-enabled yes`); {@link startRedisCluster} does this. */
  clusterEnabled?: boolean;
}

class RedisProcess extends ManagedServer implements RedisServer {
  readonly host = HOST;

  constructor(private readonly options: RedisOptions) {
    super("redis", resolveBinary("redis-server", "redis-server"), [options.port], options);
  }

  get port(): number {
    return this.ports[0]!;
  }

  get url(): string {
    return `redis://${HOST}:${this.port}`;
  }

  protected override args({ ports, dataDir }: LaunchContext): string[] {
    const args = ["--port", String(ports[0]), "--bind", HOST, "--dir", dataDir, "--daemonize", "no"];
    args.push("--logfile", "", "--protected-mode", "no");
    // Redis 7 waits 5 s before a diskless full sync to batch replicas; tests have one replica at a time.
    args.push("--repl-diskless-sync-delay", "0");
    if (this.options.persistence) args.push("--appendonly", "yes", "--appendfsync", "everysec");
    else args.push("--save", "", "--appendonly", "no");
    if (this.options.clusterEnabled) {
      args.push(
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        "nodes.conf",
        "--cluster-node-timeout",
        "2000",
      );
    }
    return args;
  }

  protected override async probe({ ports }: LaunchContext): Promise<boolean> {
    // PING fails with LOADING while a persistent server reads its data back.
    return (await redisCommand(ports[0]!, ["PING"], { timeoutMs: 1000 })) === "PONG";
  }

  command(...args: (string | number)[]): Promise<string | null> {
    return redisCommand(this.port, args);
  }

  async flushAll(): Promise<void> {
    await this.command("FLUSHALL");
  }

  async replicaOf(primary: RedisServer | null): Promise<void> {
    if (primary === null) {
      await this.command("REPLICAOF", "NO", "ONE");
      return;
    }
    await this.command("REPLICAOF", primary.host, primary.port);
    const deadline = Date.now() + 10_000;
    while (!(await this.command("INFO", "replication"))?.includes("master_link_status:up")) {
      if (Date.now() > deadline)
        throw new Error(`redis :${this.port} did not sync from :${primary.port} in 10 s`);
      await sleep(20);
    }
  }
}

/** Starts a Redis server on a free loopback port (or `opts.port`), without persistence unless asked. */
export async function startRedis(opts: RedisOptions = {}): Promise<RedisServer> {
  const server = new RedisProcess(opts);
  await server.start();
  return server;
}

/** A private Redis Cluster of masters only. */
export interface RedisCluster extends AsyncDisposable {
  readonly nodes: RedisServer[];
  /** Every node's address, for `new Cluster(startupNodes)` in ioredis. */
  readonly startupNodes: { host: string; port: number }[];
  /** Disposes every node. Idempotent. */
  dispose(): Promise<void>;
}

/**
 * Starts `masters` (default 3, at least 3) cluster-mode Redis nodes, joins them with
 * `redis-cli --cluster create ... --cluster-replicas 0 --cluster-yes` and waits until every node reports
 * `cluster_state:ok` (~2 s).
 */
export async function startRedisCluster(opts: { masters?: number } = {}): Promise<RedisCluster> {
  const masters = opts.masters ?? 3;
  if (masters < 3) throw new Error("a Redis cluster needs at least 3 masters");
  const cli = resolveBinary("redis-cli", "redis-tools");
  const started = await Promise.allSettled(
    Array.from({ length: masters }, () => startRedis({ clusterEnabled: true })),
  );
  const nodes = started.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  const dispose = async () => {
    await Promise.all(nodes.map((n) => n.dispose()));
  };
  try {
    const failed = started.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
    const addresses = nodes.map((n) => `${n.host}:${n.port}`);
    await run(cli, ["--cluster", "create", ...addresses, "--cluster-replicas", "0", "--cluster-yes"]);
    const deadline = Date.now() + 20_000;
    for (const node of nodes) {
      while (!(await node.command("CLUSTER", "INFO"))?.includes("cluster_state:ok")) {
        if (Date.now() > deadline)
          throw new Error(`redis cluster node :${node.port} never reached cluster_state:ok`);
        await sleep(50);
      }
    }
  } catch (error) {
    await dispose();
    throw error;
  }
  return {
    nodes,
    startupNodes: nodes.map((n) => ({ host: n.host, port: n.port })),
    dispose,
    [Symbol.asyncDispose]: dispose,
  };
}
