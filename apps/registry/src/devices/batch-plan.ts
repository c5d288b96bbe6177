import { Code } from "@connectrpc/connect";
import type { DeviceEntry, UserWrite } from "@im-core/stores/etcd";
import { type DeviceRules, decideRegistration } from "./rules.js";

/** One device of a batch, with its index in the request (results and messages name it). */
export interface BatchDevice {
  index: number;
  userId: string;
  deviceId: string;
}

/** A device's answer: registered (written or already in place), or refused with a code. */
export type DeviceOutcome =
  | {
      readonly ok: true;
      readonly written: boolean;
      readonly kept?: DeviceEntry;
      readonly evicted: DeviceEntry[];
    }
  | { readonly ok: false; readonly code: Code; readonly message: string };

export interface UserPlan {
  write: UserWrite;
  /** By request index. */
  outcomes: Map<number, DeviceOutcome>;
  /** A refusal made on a view etcd did not give (the mirror's): only etcd's own answer may refuse. */
  refused: boolean;
}

/** Entries this plan puts, marked so a later eviction within the batch can tell them from stored ones. */
interface Planned extends DeviceEntry {
  index?: number;
  /** The stored entry this put moves (from another node or lease): evicting the put must delete it. */
  replaces?: DeviceEntry | undefined;
}

/**
 * Decides one user's devices of a batch, in request order, as Register decides each: every device sees
 * the user's devices as the earlier ones left them, so the limit holds over the whole batch. A device
 * already on this node and lease is acknowledged without a write (a retried batch changes nothing). A
 * device the limit evicts to make room for a later one of the same batch is answered RESOURCE_EXHAUSTED:
 * its put is dropped (etcd refuses a put and a delete of one key in one txn) or, if it was already in
 * place, its entry is deleted like any eviction.
 */
export function planUser(
  view: { revision: number; entries: readonly DeviceEntry[] },
  devices: readonly BatchDevice[],
  target: { gatewayNode: string; leaseId: bigint },
  rules: DeviceRules,
): UserPlan {
  let current: Planned[] = [...view.entries];
  const put = new Map<string, number>();
  const keep = new Map<string, { entry: DeviceEntry; index: number }>();
  const evict: DeviceEntry[] = [];
  const outcomes = new Map<number, DeviceOutcome>();
  let refused = false;
  // Newer than anything stored, in request order: evict_oldest then evicts stored entries first.
  let order = Number.MAX_SAFE_INTEGER - devices.length;
  for (const device of devices) {
    const existing = current.find((e) => e.deviceId === device.deviceId);
    if (
      existing &&
      existing.index === undefined &&
      existing.gatewayNode === target.gatewayNode &&
      existing.leaseId === target.leaseId
    ) {
      keep.set(device.deviceId, { entry: existing, index: device.index });
      outcomes.set(device.index, { ok: true, written: false, kept: existing, evicted: [] });
      continue;
    }
    const decision = decideRegistration(current, device.deviceId, rules);
    if (!decision.accept) {
      refused = true;
      outcomes.set(device.index, {
        ok: false,
        code: Code.ResourceExhausted,
        message: `devices[${device.index}]: ${decision.reason}`,
      });
      continue;
    }
    const evicted: DeviceEntry[] = [];
    for (const victim of decision.evict as Planned[]) {
      const inBatch = victim.index ?? keep.get(victim.deviceId)?.index;
      if (inBatch !== undefined) {
        // What the victim evicted is still gone: the device that displaced it reports it instead.
        const displaced = outcomes.get(inBatch);
        if (displaced?.ok) evicted.push(...displaced.evicted);
        outcomes.set(inBatch, {
          ok: false,
          code: Code.ResourceExhausted,
          message: `devices[${inBatch}]: evicted by devices[${device.index}] of the same batch (limit ${rules.maxDevices})`,
        });
      }
      if (victim.index !== undefined) put.delete(victim.deviceId);
      const stored = victim.index === undefined ? victim : victim.replaces;
      if (!stored) continue;
      keep.delete(stored.deviceId);
      evict.push(stored);
      evicted.push(stored);
    }
    const gone = new Set(decision.evict.map((e) => e.deviceId));
    current = current.filter((e) => !gone.has(e.deviceId) && e.deviceId !== device.deviceId);
    current.push({
      userId: device.userId,
      deviceId: device.deviceId,
      gatewayNode: target.gatewayNode,
      connectedAtMs: 0,
      leaseId: target.leaseId,
      modRevision: order++,
      index: device.index,
      replaces: existing?.index === undefined ? existing : existing.replaces,
    });
    put.set(device.deviceId, device.index);
    outcomes.set(device.index, { ok: true, written: true, evicted });
  }
  // A stored entry evicted for a device that the batch then registers again is not evicted but moved:
  // the put replaces it (and etcd refuses a put and a delete of one key in one txn).
  const moved = (e: DeviceEntry) => put.has(e.deviceId);
  for (const outcome of outcomes.values()) {
    if (outcome.ok && outcome.evicted.some(moved))
      outcome.evicted.splice(0, Infinity, ...outcome.evicted.filter((e) => !moved(e)));
  }
  return {
    write: {
      userId: devices[0]!.userId,
      unchangedSince: view.revision,
      put: [...put.keys()],
      evict: evict.filter((e) => !moved(e)),
      keep: [...keep.values()].map((k) => k.entry),
    },
    outcomes,
    refused,
  };
}
