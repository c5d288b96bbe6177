import type { RegistryClient } from "../clients.js";
import { CALL_TIMEOUT_MS, pause, type WorkerContext } from "./context.js";

export interface DeviceRef {
  userId: string;
  deviceId: string;
}

export interface GatewayOptions {
  gatewayNode: string;
  /** The devices only this gateway touches, so the order of their operations is the worker's own order. */
  devices: DeviceRef[];
  ttlSeconds: number;
  renewEveryMs: number;
  pauseMs: number;
}

/** The lease a gateway registers its devices on; `dead` once the service said it is gone. */
interface LeaseState {
  id: bigint;
  dead: boolean;
}

/**
 * A gateway: grants a lease, registers and unregisters its own devices on random instances, and keeps the
 * lease alive with Renew from a loop of its own (as a gateway's keep-alive timer would). A lease the service
 * reports gone is replaced by a new one before the next Register.
 */
export async function gatewayWorker(
  ctx: WorkerContext,
  clients: RegistryClient[],
  options: GatewayOptions,
): Promise<void> {
  const state: { lease?: LeaseState } = {};
  await Promise.all([devicesLoop(ctx, clients, options, state), renewLoop(ctx, clients, options, state)]);
}

async function devicesLoop(
  ctx: WorkerContext,
  clients: RegistryClient[],
  options: GatewayOptions,
  state: { lease?: LeaseState },
): Promise<void> {
  const { random, history } = ctx;
  const { gatewayNode } = options;
  while (!ctx.stop.aborted) {
    const instance = random.int(0, clients.length - 1);
    const client = clients[instance]!;
    const meta = { worker: ctx.name, service: "registry" as const, instance };
    let ok: boolean;
    if (!state.lease || state.lease.dead) {
      const ttlSeconds = options.ttlSeconds;
      const record = await history.record(
        { ...meta, rpc: "GrantLease", args: { gatewayNode, ttlSeconds } },
        () => client.grantLease({ gatewayNode, ttlSeconds }, { timeoutMs: CALL_TIMEOUT_MS }),
        (r) => ({ leaseId: String(r.leaseId), ttlSeconds: r.ttlSeconds }),
      );
      ok = record.outcome === "ok";
      if (ok) state.lease = { id: BigInt(String(record.result!.leaseId)), dead: false };
    } else if (random.chance(0.6)) {
      const device = random.pick(options.devices);
      const lease = state.lease;
      const record = await history.record(
        { ...meta, rpc: "Register", args: { ...device, gatewayNode, leaseId: String(lease.id) } },
        () => client.register({ ...device, gatewayNode, leaseId: lease.id }, { timeoutMs: CALL_TIMEOUT_MS }),
        (r) => ({ leaseId: String(r.leaseId), evicted: r.evicted.length }),
      );
      ok = record.outcome === "ok";
      if (record.code === "not_found" && record.answered) lease.dead = true;
    } else {
      const device = random.pick(options.devices);
      // With gateway_node, only while the entry is still ours: both kinds a gateway sends.
      const own = random.chance(0.5) ? gatewayNode : "";
      const record = await history.record(
        { ...meta, rpc: "Unregister", args: { ...device, gatewayNode: own } },
        () => client.unregister({ ...device, gatewayNode: own }, { timeoutMs: CALL_TIMEOUT_MS }),
        (r) => ({ removed: r.removed }),
      );
      ok = record.outcome === "ok";
    }
    if (!(await pause(ctx.stop, ok ? options.pauseMs : random.int(100, 300)))) return;
  }
}

async function renewLoop(
  ctx: WorkerContext,
  clients: RegistryClient[],
  options: GatewayOptions,
  state: { lease?: LeaseState },
): Promise<void> {
  const random = ctx.random.fork();
  while (await pause(ctx.stop, options.renewEveryMs)) {
    const lease = state.lease;
    if (!lease || lease.dead) continue;
    await renew(ctx, clients, random.int(0, clients.length - 1), lease, `${ctx.name}/renew`);
  }
}

/** One Renew, recorded; marks the lease dead when the service answers NOT_FOUND. */
async function renew(
  ctx: Pick<WorkerContext, "history">,
  clients: RegistryClient[],
  instance: number,
  lease: LeaseState,
  worker: string,
): Promise<boolean> {
  const record = await ctx.history.record(
    { worker, service: "registry", rpc: "Renew", instance, args: { leaseId: String(lease.id) } },
    () => clients[instance]!.renew({ leaseId: lease.id }, { timeoutMs: CALL_TIMEOUT_MS }),
    (r) => ({ ttlSeconds: r.ttlSeconds }),
  );
  if (record.code === "not_found" && record.answered) lease.dead = true;
  return record.outcome === "ok";
}

/** A router's lookups: random users on random instances. Recorded for the call counts and outages. */
export async function lookupWorker(
  ctx: WorkerContext,
  clients: RegistryClient[],
  users: string[],
  pauseMs: number,
): Promise<void> {
  const { random, history } = ctx;
  while (!ctx.stop.aborted) {
    const instance = random.int(0, clients.length - 1);
    const userId = random.pick(users);
    const record = await history.record(
      { worker: ctx.name, service: "registry", rpc: "Lookup", instance, args: { userId } },
      () => clients[instance]!.lookup({ userId }, { timeoutMs: CALL_TIMEOUT_MS }),
      (r) => ({
        revision: Number(r.revision),
        devices: r.devices.map((d) => `${d.deviceId}@${d.gatewayNode}`),
      }),
    );
    if (!(await pause(ctx.stop, record.outcome === "ok" ? pauseMs : random.int(100, 300)))) return;
  }
}
