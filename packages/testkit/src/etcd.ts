import { randomBytes } from "node:crypto";
import { sleep } from "@im-core/common";
import { resolveBinary } from "./binaries.js";
import { ManagedServer } from "./managed-server.js";
import { freePorts, HOST } from "./ports.js";
import type { LaunchContext, ServerOptions, ServerProcess } from "./server-process.js";

/** A private etcd 3.4 member. */
export interface EtcdServer extends ServerProcess {
  /** Client URLs, e.g. `["http://127.0.0.1:41234"]`, for `ETCD_ENDPOINTS` or the etcd3 client's `hosts`. */
  readonly endpoints: string[];
  /** Client port. */
  readonly port: number;
  /** Peer (raft) port. */
  readonly peerPort: number;
  /** Member name inside its cluster (`n0`, `n1`, ...). */
  readonly name: string;
}

/** Options of {@link startEtcd}. */
export interface EtcdOptions extends ServerOptions {
  /**
   * Default true: `--heartbeat-interval=10 --election-timeout=100`, which lowers etcd's minimum lease TTL
   * from 2 s to 1 s and makes elections take ~0.1 s (TOOLCHAIN gotcha 7). False keeps etcd's defaults.
   */
  fast?: boolean;
  /** Fixed peer port. Default: a free port. */
  peerPort?: number;
}

/** A private etcd cluster, every member on loopback. */
export interface EtcdCluster extends AsyncDisposable {
  readonly nodes: EtcdServer[];
  /** Client URLs of all members, in node order. */
  readonly endpoints: string[];
  /**
   * Index in `nodes` of the current leader, as reported by a running member. Waits (up to `timeoutMs`,
   * default 10 s) while there is no leader, e.g. right after the old one was killed.
   */
  leaderIndex(timeoutMs?: number): Promise<number>;
  /** Disposes every member. Idempotent. */
  dispose(): Promise<void>;
}

interface Membership {
  name: string;
  token: string;
  /** Full `--initial-cluster`; built from this member alone when undefined. */
  initialCluster?: string;
}

/** Calls etcd's JSON gRPC gateway, e.g. `etcdJson(endpoint, "/v3/maintenance/status", {})`. */
export async function etcdJson<T = Record<string, unknown>>(
  endpoint: string,
  path: string,
  body: unknown,
  signal: AbortSignal = AbortSignal.timeout(2000),
): Promise<T> {
  const response = await fetch(`${endpoint}${path}`, { method: "POST", body: JSON.stringify(body), signal });
  const text = await response.text();
  if (!response.ok) throw new Error(`etcd ${path} answered ${response.status}: ${text}`);
  return JSON.parse(text) as T;
}

class EtcdProcess extends ManagedServer implements EtcdServer {
  readonly name: string;

  constructor(
    private readonly membership: Membership,
    private readonly fast: boolean,
    opts: EtcdOptions,
  ) {
    super("etcd", resolveBinary("etcd", "etcd-server"), [opts.port, opts.peerPort], opts);
    this.name = membership.name;
  }

  get port(): number {
    return this.ports[0]!;
  }

  get peerPort(): number {
    return this.ports[1]!;
  }

  get endpoints(): string[] {
    return [`http://${HOST}:${this.port}`];
  }

  protected override args({ ports, dataDir }: LaunchContext): string[] {
    const client = `http://${HOST}:${ports[0]}`;
    const peer = `http://${HOST}:${ports[1]}`;
    const args = [
      `--name=${this.name}`,
      `--data-dir=${dataDir}`,
      `--listen-client-urls=${client}`,
      `--advertise-client-urls=${client}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=${this.membership.initialCluster ?? `${this.name}=${peer}`}`,
      // Ignored by etcd once the data dir holds a member, so restarts rejoin the same cluster.
      "--initial-cluster-state=new",
      `--initial-cluster-token=${this.membership.token}`,
      "--logger=zap",
      "--log-outputs=stderr",
    ];
    if (this.fast) args.push("--heartbeat-interval=10", "--election-timeout=100");
    return args;
  }

  protected override async probe({ ports }: LaunchContext, signal: AbortSignal): Promise<boolean> {
    // etcd 3.4 reports healthy only once its member sees a leader.
    const response = await fetch(`http://${HOST}:${ports[0]}/health`, { signal });
    const body = (await response.json()) as { health?: string };
    return body.health === "true";
  }

  protected override async wipe(): Promise<void> {
    if (this.membership.initialCluster !== undefined) {
      // A wiped member would need `member remove` + `member add` to rejoin; tests have not needed it.
      throw new Error("restart({ wipe: true }) is not supported for an etcd cluster member");
    }
    await super.wipe();
  }
}

/**
 * Starts a single-member etcd on a free loopback port (or `opts.port`) and waits until it has elected
 * itself leader (~0.1 s with `fast`).
 */
export async function startEtcd(opts: EtcdOptions = {}): Promise<EtcdServer> {
  const server = new EtcdProcess(
    { name: "n0", token: randomBytes(6).toString("hex") },
    opts.fast ?? true,
    opts,
  );
  await server.start();
  return server;
}

/** Options of {@link startEtcdCluster}. */
export interface EtcdClusterOptions {
  /** Number of members. Default 3. */
  size?: 3 | 5;
  /** See {@link EtcdOptions.fast}. Default true. */
  fast?: boolean;
}

/**
 * Starts an etcd cluster of `size` members on free loopback ports, each with its own temporary data dir,
 * and waits until every member sees a leader.
 */
export async function startEtcdCluster(opts: EtcdClusterOptions = {}): Promise<EtcdCluster> {
  const size = opts.size ?? 3;
  // Members must know each other's peer ports before any starts, so a taken port means starting over.
  for (let attempt = 1; ; attempt++) {
    const ports = await freePorts(size * 2);
    const token = randomBytes(6).toString("hex");
    const initialCluster = Array.from(
      { length: size },
      (_, i) => `n${i}=http://${HOST}:${ports[2 * i + 1]}`,
    ).join(",");
    const nodes = Array.from(
      { length: size },
      (_, i) =>
        new EtcdProcess({ name: `n${i}`, token, initialCluster }, opts.fast ?? true, {
          port: ports[2 * i]!,
          peerPort: ports[2 * i + 1]!,
        }),
    );
    const results = await Promise.allSettled(nodes.map((n) => n.start()));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (!failed) return new Cluster(nodes);
    await Promise.all(nodes.map((n) => n.dispose()));
    if (attempt >= 3 || !/in use/i.test(String(failed.reason))) throw failed.reason;
  }
}

class Cluster implements EtcdCluster {
  constructor(readonly nodes: EtcdProcess[]) {}

  get endpoints(): string[] {
    return this.nodes.flatMap((n) => n.endpoints);
  }

  async leaderIndex(timeoutMs = 10_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = await this.findLeader();
      if (index >= 0) return index;
      if (Date.now() > deadline) throw new Error(`etcd cluster has no leader after ${timeoutMs} ms`);
      await sleep(50);
    }
  }

  private async findLeader(): Promise<number> {
    type Status = { header?: { member_id?: string }; leader?: string };
    const statuses = await Promise.all(
      this.nodes.map((n) =>
        n.pid === undefined
          ? undefined
          : etcdJson<Status>(n.endpoints[0]!, "/v3/maintenance/status", {}, AbortSignal.timeout(500)).catch(
              () => undefined,
            ),
      ),
    );
    const leader = statuses.find((s) => s?.leader && s.leader !== "0")?.leader;
    if (!leader) return -1;
    return statuses.findIndex((s) => s?.header?.member_id === leader);
  }

  async dispose(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.dispose()));
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }
}
