import { Code } from "@connectrpc/connect";
import { isStoreError } from "@im-core/common";
import { toConnectError } from "@im-core/service-kit";
import {
  type CallOptions,
  type DeviceEntry,
  type DeviceSnapshot,
  type EtcdRegistryStore,
  MAX_TXN_OPS,
  txnSize,
} from "@im-core/stores/etcd";
import { type BatchDevice, type DeviceOutcome, planUser, type UserPlan } from "./batch-plan.js";
import type { DeviceRules } from "./rules.js";

export type { BatchDevice, DeviceOutcome } from "./batch-plan.js";

export interface BatchRegistration {
  gatewayNode: string;
  /** A lease the caller may use (checked before). */
  leaseId: bigint;
  /** Valid, each (user, device) once. */
  devices: readonly BatchDevice[];
  /** The users' devices as a current mirror knows them; a refusal is still made only on etcd's answer. */
  hint?: DeviceSnapshot | undefined;
}

export interface DeviceResult {
  index: number;
  outcome: DeviceOutcome;
  /** For a written device: its entry as written. */
  entry?: DeviceEntry;
}

/** Rounds of decide-and-write for users whose devices keep changing under the batch. */
const MAX_ROUNDS = 16;

type View = { revision: number; entries: DeviceEntry[]; fromEtcd: boolean };

/**
 * Registers a batch of devices of one gateway node on one lease: each user's devices are decided on one
 * view and written only if the user did not change since (as Register does), and many users share one
 * txn. A txn holds users while etcd's op limit allows; txns run concurrently. A failed txn answers every
 * user's current devices, so its users are decided again on them in the next round.
 */
export async function registerBatch(
  store: EtcdRegistryStore,
  rules: DeviceRules,
  batch: BatchRegistration,
  options: CallOptions,
): Promise<{ results: DeviceResult[]; revision: number }> {
  const byUser = new Map<string, BatchDevice[]>();
  for (const device of batch.devices) {
    const list = byUser.get(device.userId);
    if (list) list.push(device);
    else byUser.set(device.userId, [device]);
  }
  const views = new Map<string, View>();
  const adopt = (snapshot: DeviceSnapshot, users: Iterable<string>, fromEtcd: boolean) => {
    for (const user of users) views.set(user, { revision: snapshot.revision, entries: [], fromEtcd });
    for (const entry of snapshot.entries) views.get(entry.userId)?.entries.push(entry);
  };
  if (batch.hint) adopt(batch.hint, byUser.keys(), false);
  else adopt(await store.lookup([...byUser.keys()], options), byUser.keys(), true);

  const byIndex = new Map(batch.devices.map((d) => [d.index, d]));
  const results: DeviceResult[] = [];
  let revision = 0;
  let pending = [...byUser.keys()];
  for (let round = 0; round < MAX_ROUNDS && pending.length > 0; round++) {
    const plans = pending.map((user) => planUser(views.get(user)!, byUser.get(user)!, batch, rules));
    // A refusal decided on the mirror's view may be stale: read those users from etcd and decide again.
    const recheck = plans.filter((p, i) => p.refused && !views.get(pending[i]!)!.fromEtcd);
    if (recheck.length > 0) {
      const users = recheck.map((p) => p.write.userId);
      adopt(await store.lookup(users, options), users, true);
      continue;
    }
    const retry: string[] = [];
    await Promise.all(
      pack(plans).map(async (txn) => {
        const connectedAtMs = Date.now();
        try {
          const outcome = await store.writeUsers(
            {
              gatewayNode: batch.gatewayNode,
              leaseId: batch.leaseId,
              connectedAtMs,
              users: txn.map((p) => p.write),
            },
            options,
          );
          revision = Math.max(revision, outcome.revision);
          if (!outcome.written) {
            for (const [user, entries] of outcome.views) {
              views.set(user, { revision: outcome.revision, entries, fromEtcd: true });
              retry.push(user);
            }
            return;
          }
          for (const plan of txn) settle(plan, results, batch, byIndex, connectedAtMs, outcome.revision);
        } catch (error) {
          // Every device of the txn shares its fate: the lease ended, or etcd did not answer in time.
          const failure = toConnectError(error);
          if (!isStoreError(error)) throw error;
          for (const plan of txn) {
            for (const index of plan.outcomes.keys()) {
              results.push({
                index,
                outcome: { ok: false, code: failure.code, message: failure.rawMessage },
              });
            }
          }
        }
      }),
    );
    pending = retry;
  }
  for (const user of pending) {
    for (const device of byUser.get(user)!) {
      results.push({
        index: device.index,
        outcome: {
          ok: false,
          code: Code.Unavailable,
          message: `devices[${device.index}]: too many concurrent changes to this user's devices; retry`,
        },
      });
    }
  }
  return { results, revision: revision || (batch.hint?.revision ?? 0) };
}

/** Users in request order, as many per txn as etcd's op limits allow (a user never spans two txns). */
function pack(plans: UserPlan[]): UserPlan[][] {
  const txns: UserPlan[][] = [];
  let current: UserPlan[] = [];
  let used = { compares: 0, success: 0, failure: 0 };
  for (const plan of plans) {
    const size = txnSize(plan.write);
    const fits =
      used.compares + size.compares <= MAX_TXN_OPS &&
      used.success + size.success <= MAX_TXN_OPS &&
      used.failure + size.failure <= MAX_TXN_OPS;
    if (!fits && current.length > 0) {
      txns.push(current);
      current = [];
      used = { compares: 0, success: 0, failure: 0 };
    }
    current.push(plan);
    used = {
      compares: used.compares + size.compares,
      success: used.success + size.success,
      failure: used.failure + size.failure,
    };
  }
  if (current.length > 0) txns.push(current);
  return txns;
}

function settle(
  plan: UserPlan,
  results: DeviceResult[],
  batch: BatchRegistration,
  byIndex: ReadonlyMap<number, BatchDevice>,
  connectedAtMs: number,
  revision: number,
): void {
  for (const [index, outcome] of plan.outcomes) {
    if (!outcome.ok) {
      results.push({ index, outcome });
      continue;
    }
    const entry: DeviceEntry = outcome.kept ?? {
      userId: plan.write.userId,
      deviceId: byIndex.get(index)!.deviceId,
      gatewayNode: batch.gatewayNode,
      connectedAtMs,
      leaseId: batch.leaseId,
      modRevision: revision,
    };
    results.push({ index, outcome, entry });
  }
}
