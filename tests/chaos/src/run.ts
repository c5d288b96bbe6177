import { setMaxListeners } from "node:events";
import { sleep } from "@im-core/common";
import { check, type Verdict } from "./checker/index.js";
import { findOutages, type Outage } from "./checker/outages.js";
import type { StreamSpec } from "./checker/watch.js";
import { registryClients, sequenceClients } from "./clients.js";
import { Deployment, tokens } from "./deployment.js";
import { type EtcdHistory, readEtcdHistory } from "./etcd-history.js";
import { finalLookups, renewAll } from "./final.js";
import { History } from "./history.js";
import type { FaultPlan } from "./nemesis/faults.js";
import { runNemesis } from "./nemesis/nemesis.js";
import { type FaultSpec, schedule } from "./nemesis/schedule.js";
import { Random } from "./random.js";
import { gatewayWorker, lookupWorker } from "./workers/registry.js";
import { conversations, sequenceWorker } from "./workers/sequence.js";
import { type WatchHandle, watchWorker } from "./workers/watch.js";

export interface RunOptions {
  seed: number;
  /**
   * Workload time, at least (the deployment's start and the final reads come on top): longer when the
   * faults took longer than planned, since the last one is always followed by a quiet cool-down.
   */
  durationMs: number;
  /** Exactly these faults in this order; default: drawn from the seed to fill the duration. */
  faults?: readonly FaultSpec[];
  /** Longest hold of one fault. */
  maxHoldMs?: number;
  gapMs?: [number, number];
  log?: (line: string) => void;
}

export interface RunResult {
  options: RunOptions;
  plans: FaultPlan[];
  history: History;
  verdict: Verdict;
  outages: Outage[];
  workloadMs: { fromMs: number; toMs: number };
  startupMs: number;
  finalPhaseMs: number;
}

const WARMUP_MS = 5_000;
/** Quiet time after the last heal before the workload stops: every instance reconnected and serving again. */
const COOLDOWN_MS = 10_000;
const GATEWAYS = 3;
const USERS_PER_GATEWAY = 6;
const DEVICES_PER_USER = 2;

/** Starts the deployment, runs workload and nemesis together, then the final reads and the checks. */
export async function runChaos(options: RunOptions): Promise<RunResult> {
  const log = options.log ?? (() => {});
  const random = new Random(options.seed);
  const plans = schedule(random.fork(), {
    budgetMs: Math.max(0, options.durationMs - WARMUP_MS - COOLDOWN_MS),
    ...(options.faults ? { kinds: options.faults } : {}),
    ...(options.maxHoldMs ? { maxHoldMs: options.maxHoldMs } : {}),
    ...(options.gapMs ? { gapMs: options.gapMs } : {}),
  });
  log(`seed ${options.seed}: ${plans.length} faults planned: ${plans.map((p) => p.kind).join(", ")}`);

  const startedAt = performance.now();
  const d = await Deployment.start();
  const startupMs = performance.now() - startedAt;
  log(`deployment up in ${(startupMs / 1000).toFixed(1)} s`);
  const history = new History();
  try {
    const stop = new AbortController();
    // Every worker waits on it between calls.
    setMaxListeners(100, stop.signal);
    const ctx = (name: string) => ({ name, history, random: random.fork(), stop: stop.signal });
    const registryUrls = d.registryUrls();
    const sequenceUrls = d.sequenceUrls();
    const chats = conversations(6, 4);
    const users = Array.from({ length: GATEWAYS }, (_, g) =>
      Array.from({ length: USERS_PER_GATEWAY }, (_, u) => `user-${g}-${u}`),
    );
    const allUsers = users.flat();

    const workers: Promise<void>[] = [];
    for (let i = 0; i < 4; i++) {
      workers.push(sequenceWorker(ctx(`seq-${i}`), sequenceClients(sequenceUrls, tokens.gateway), chats, 50));
    }
    for (let g = 0; g < GATEWAYS; g++) {
      const devices = users[g]!.flatMap((userId) =>
        Array.from({ length: DEVICES_PER_USER }, (_, k) => ({ userId, deviceId: `dev-${k}` })),
      );
      workers.push(
        gatewayWorker(ctx(`gw-${g}`), registryClients(registryUrls, tokens.gateway), {
          gatewayNode: `gw-${g}:9000`,
          devices,
          ttlSeconds: 60,
          renewEveryMs: 3_000,
          pauseMs: 150,
        }),
      );
    }
    const specs: StreamSpec[] = [];
    const watches: WatchHandle[] = [];
    for (let r = 0; r < 2; r++) {
      workers.push(
        lookupWorker(ctx(`router-${r}`), registryClients(registryUrls, tokens.router), allUsers, 200),
      );
      for (const [kind, userIds] of [
        ["all", []],
        ["some", users[r]!],
      ] as const) {
        const spec = { stream: `router-${r}/watch-${kind}`, userIds: [...userIds] };
        specs.push(spec);
        watches.push(watchWorker(ctx(spec.stream), registryClients(registryUrls, tokens.router), spec));
      }
    }

    const fromMs = history.now();
    await sleep(WARMUP_MS);
    await runNemesis(d, history, plans, log);
    log(`all faults healed at ${(history.now() / 1000).toFixed(1)} s; cooling down`);
    // The plan is an estimate: a run lasts its duration, the time left after the faults being quiet.
    await sleep(Math.max(COOLDOWN_MS, options.durationMs - (history.now() - fromMs)));
    stop.abort();
    await Promise.all(workers);
    const toMs = history.now();
    log(`workload stopped at ${(toMs / 1000).toFixed(1)} s: ${history.calls.length} calls`);

    const finalStarted = performance.now();
    const problems: string[] = [];
    const finalClients = registryClients(registryUrls, tokens.gateway);
    await renewAll(history, finalClients, problems);
    const finals = await finalLookups(
      history,
      registryClients(registryUrls, tokens.router),
      allUsers,
      problems,
    );
    const etcd = await readHistory(d, history, problems);
    if (etcd) await catchUp(watches, specs, etcd, problems);
    for (const w of watches) w.close();
    await Promise.all(watches.map((w) => w.done));
    const finalPhaseMs = performance.now() - finalStarted;

    const verdict = check(history, finals, etcd, specs, problems);
    const outages = findOutages(history.calls, history.faults, { fromMs, toMs });
    return {
      options,
      plans,
      history,
      verdict,
      outages,
      workloadMs: { fromMs, toMs },
      startupMs,
      finalPhaseMs,
    };
  } finally {
    await d.dispose();
  }
}

/** etcd's device history from the earliest revision any stream started after. */
async function readHistory(
  d: Deployment,
  history: History,
  problems: string[],
): Promise<EtcdHistory | undefined> {
  const bases = history.watches.flatMap((s) => (s.firstRevision === undefined ? [] : [s.firstRevision]));
  if (bases.length === 0) {
    problems.push("no Watch stream ever answered");
    return undefined;
  }
  try {
    return await readEtcdHistory(d.etcd.endpoints, Math.min(...bases) + 1);
  } catch (error) {
    problems.push(`etcd history could not be read: ${String(error)}`);
    return undefined;
  }
}

/** Waits until each stream has reported every revision holding an event of its users. */
async function catchUp(
  watches: WatchHandle[],
  specs: StreamSpec[],
  etcd: EtcdHistory,
  problems: string[],
): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (const [i, watch] of watches.entries()) {
    const followed = new Set(specs[i]!.userIds);
    const needed = Math.max(
      0,
      ...etcd.events.filter((e) => followed.size === 0 || followed.has(e.userId)).map((e) => e.revision),
    );
    while ((watch.lastRevision() ?? 0) < needed && Date.now() < deadline) await sleep(200);
    if ((watch.lastRevision() ?? 0) < needed) {
      problems.push(
        `${watch.stream} reached revision ${watch.lastRevision()} but etcd has its users' events up to ${needed}`,
      );
    }
  }
}
