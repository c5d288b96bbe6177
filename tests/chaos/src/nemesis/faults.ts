import { sleep } from "@im-core/common";
import type { Deployment } from "../deployment.js";

export const FAULT_KINDS = [
  "redis-flushall",
  "redis-kill",
  "redis-failover",
  "redis-rollback",
  "etcd-leader-kill",
  "etcd-quorum-loss",
  "mysql-kill",
  "service-kill",
  "service-term",
  "partition",
] as const;

export type FaultKind = (typeof FAULT_KINDS)[number];

/** One planned fault, fully drawn from the seed so a replay injects the same thing. */
export interface FaultPlan {
  kind: FaultKind;
  /** How long the fault lasts before it is healed (or, for a snapshot, how far the copy falls behind). */
  holdMs: number;
  /** Quiet time after the heal, so the system recovers before the next fault. */
  gapMs: number;
  /** Which service instance (service faults, partitions). */
  service: "registry" | "sequence";
  instance: number;
  /** partition: which backend the instance is cut from; rollback: whether clients are cut afterwards. */
  variant: string;
}

/**
 * A fault that runs from injection to heal; returns a description of what it did. Its injection time is
 * when it starts, unless it prepares first (a snapshot to fail over or roll back to): it then calls
 * `injected` at the moment the data changes under the clients.
 */
type FaultRun = (d: Deployment, plan: FaultPlan, injected: () => void) => Promise<string>;

const port = (p: { port: number }) => `:${p.port}`;

/** A copy of the serving Redis as of now: the standby replicates it, then detaches. */
async function snapshot(d: Deployment): Promise<void> {
  await d.standbyRedis.replicaOf(d.redis);
  await d.standbyRedis.replicaOf(null);
}

const runs: Record<FaultKind, FaultRun> = {
  async "redis-flushall"(d) {
    await d.redis.flushAll();
    return `FLUSHALL on ${port(d.redis)}`;
  },
  async "redis-kill"(d, plan) {
    const redis = d.redis;
    await redis.kill();
    await sleep(plan.holdMs);
    await redis.restart();
    return `kill -9 ${port(redis)}, restarted empty after ${plan.holdMs} ms`;
  },
  async "redis-failover"(d, plan, injected) {
    const [from, to] = [d.redis, d.standbyRedis];
    await snapshot(d);
    // The primary keeps serving while the copy falls behind, then clients are moved to the copy.
    await sleep(plan.holdMs);
    injected();
    d.failOver();
    return `copy ${port(to)} detached from ${port(from)}, ${plan.holdMs} ms later proxies switched to it`;
  },
  async "redis-rollback"(d, plan, injected) {
    const [primary, copy] = [d.redis, d.standbyRedis];
    await snapshot(d);
    await sleep(plan.holdMs);
    injected();
    await primary.replicaOf(copy);
    await primary.replicaOf(null);
    const cut = plan.variant === "cut";
    if (cut) await primary.command("CLIENT", "KILL", "TYPE", "normal");
    return `${port(primary)} rolled back ${plan.holdMs} ms through ${port(copy)}, connections ${cut ? "cut" : "kept"}`;
  },
  async "etcd-leader-kill"(d, plan) {
    const leader = d.etcd.nodes[await d.etcd.leaderIndex(30_000)]!;
    await leader.kill();
    await sleep(plan.holdMs);
    await leader.restart();
    return `leader ${leader.name} killed, restarted after ${plan.holdMs} ms`;
  },
  async "etcd-quorum-loss"(d, plan) {
    const kept = plan.instance % d.etcd.nodes.length;
    const stopped = d.etcd.nodes.filter((_, i) => i !== kept);
    await Promise.all(stopped.map((n) => n.stop()));
    await sleep(plan.holdMs);
    await Promise.all(stopped.map((n) => n.restart()));
    return `${stopped.map((n) => n.name).join(", ")} stopped for ${plan.holdMs} ms`;
  },
  async "mysql-kill"(d, plan) {
    await d.mariadb.kill();
    await sleep(plan.holdMs);
    await d.mariadb.restart();
    return `kill -9 MariaDB, restarted after ${plan.holdMs} ms`;
  },
  async "service-kill"(d, plan) {
    const service = serviceOf(d, plan);
    await service.kill();
    await sleep(plan.holdMs);
    await service.restart();
    return `SIGKILL ${service.name}, restarted after ${plan.holdMs} ms`;
  },
  async "service-term"(d, plan) {
    const service = serviceOf(d, plan);
    await service.stop();
    const exit = service.exitCode;
    await sleep(plan.holdMs);
    await service.restart();
    return `SIGTERM ${service.name} (exit ${exit === null ? "by SIGKILL after the grace" : exit}), restarted after ${plan.holdMs} ms`;
  },
  async partition(d, plan) {
    const proxies =
      plan.service === "registry"
        ? d.registries[plan.instance]!.etcdProxies
        : [
            plan.variant === "redis"
              ? d.sequences[plan.instance]!.redisProxy
              : d.sequences[plan.instance]!.mysqlProxy,
          ];
    for (const proxy of proxies) proxy.cut();
    await sleep(plan.holdMs);
    for (const proxy of proxies) proxy.restore();
    const backend = plan.service === "registry" ? "etcd" : plan.variant;
    return `${plan.service}-${plan.instance} cut from ${backend} for ${plan.holdMs} ms`;
  },
};

function serviceOf(d: Deployment, plan: FaultPlan) {
  return plan.service === "registry"
    ? d.registries[plan.instance]!.service
    : d.sequences[plan.instance]!.service;
}

export function runFault(d: Deployment, plan: FaultPlan, injected: () => void): Promise<string> {
  return runs[plan.kind](d, plan, injected);
}
