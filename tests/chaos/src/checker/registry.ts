import type { CallRecord } from "../history.js";

/**
 * How long after its invocation an indeterminate write may still take effect. Bounded by the call's
 * deadline (8 s, which the service propagates to its handler), etcd's own request timeout (~7 s with
 * default timing) and the longest etcd outage the nemesis holds (a proposal left in a member's log
 * commits when quorum returns): about 20 s in the worst case. 30 s leaves room.
 */
export const LATE_EFFECT_MS = 30_000;

/** Slack between the runner's clock and etcd's lease clock. */
const LEASE_CLOCK_SLACK_MS = 2_000;

/** One entry of a final lookup. */
export interface FinalEntry {
  userId: string;
  deviceId: string;
  gatewayNode: string;
  leaseId: string;
}

/** What one instance answered at the end, after every fault was healed and the workload stopped. */
export interface FinalLookup {
  instance: number;
  completeMs: number;
  entries: FinalEntry[];
}

export interface RegistryFindings {
  violations: string[];
  /** Devices whose final state the history settles (present, or absent), and how many of each. */
  checkedPresent: number;
  checkedAbsent: number;
  /** Devices left unchecked, by reason. */
  unchecked: Record<string, number>;
}

type Write = CallRecord & {
  args: { userId: string; deviceId: string; gatewayNode: string; leaseId?: string };
};

const isWrite = (c: CallRecord): c is Write =>
  c.service === "registry" && (c.rpc === "Register" || c.rpc === "Unregister");

/** Whether an acknowledged Renew proves `leaseId` alive at `atMs`, and no answer said it was gone. */
function leaseAlive(calls: readonly CallRecord[], leaseId: string, atMs: number): boolean {
  let alive = false;
  for (const c of calls) {
    if (c.service !== "registry" || (c.args as { leaseId?: string }).leaseId !== leaseId) continue;
    if (c.rpc === "RevokeLease" && c.outcome !== "fail") return false;
    if (c.code === "not_found" && c.answered) return false;
    if (c.rpc === "Renew" && c.outcome === "ok") {
      const ttlMs = Number((c.result as { ttlSeconds: number }).ttlSeconds) * 1000;
      if (c.invokeMs + ttlMs - LEASE_CLOCK_SLACK_MS > atMs) alive = true;
    }
  }
  return alive;
}

/**
 * No acknowledged registration lost, none resurrected. Each device is written by one gateway worker only,
 * one call after another, so its writes are ordered. Take the device's last write that was acknowledged or
 * indeterminate (writes the service refused are facts: they changed nothing):
 * - an acknowledged Register on lease L, with L provably alive at the final lookup (an acknowledged Renew
 *   whose TTL outlasts it, no NOT_FOUND for L): the device must be in every final lookup, on that gateway
 *   and lease;
 * - an acknowledged Unregister: the device must be in no final lookup;
 * - indeterminate: either is allowed, nothing checked.
 * An indeterminate write invoked less than LATE_EFFECT_MS before that last write could still land after
 * it (a delete after the register, a put on another lease): such devices are not checked either.
 */
export function checkRegistry(
  calls: readonly CallRecord[],
  finals: readonly FinalLookup[],
): RegistryFindings {
  const violations: string[] = [];
  const unchecked: Record<string, number> = {};
  const skip = (reason: string) => {
    unchecked[reason] = (unchecked[reason] ?? 0) + 1;
  };
  let checkedPresent = 0;
  let checkedAbsent = 0;

  const byDevice = new Map<string, Write[]>();
  for (const c of calls) {
    if (!isWrite(c)) continue;
    const key = JSON.stringify([c.args.userId, c.args.deviceId]);
    byDevice.set(key, [...(byDevice.get(key) ?? []), c]);
  }
  const lastFinalMs = Math.max(...finals.map((f) => f.completeMs));

  for (const [key, writes] of byDevice) {
    const [userId, deviceId] = JSON.parse(key) as [string, string];
    const ordered = writes.sort((a, b) => a.invokeMs - b.invokeMs);
    const effective = ordered.filter((w) => w.outcome !== "fail");
    const last = effective[effective.length - 1];
    if (!last) {
      skip("never written");
      continue;
    }
    if (last.outcome === "indeterminate") {
      skip("last write indeterminate");
      continue;
    }
    const lateRisk = effective.some(
      (w) =>
        w !== last &&
        w.outcome === "indeterminate" &&
        w.invokeMs > last.invokeMs - LATE_EFFECT_MS &&
        (w.rpc !== last.rpc || w.args.leaseId !== last.args.leaseId),
    );
    if (lateRisk) {
      skip("an indeterminate write shortly before the last one");
      continue;
    }
    const describe = `${userId}/${deviceId}: last write ${last.rpc} call #${last.id} (${last.worker}, ${last.invokeMs.toFixed(0)}–${last.completeMs.toFixed(0)} ms${last.args.leaseId ? `, lease ${last.args.leaseId}` : ""})`;
    const refusedAfter = ordered.filter((w) => w.invokeMs > last.invokeMs);
    const after = refusedAfter.length
      ? `; writes refused after it: ${refusedAfter.map((w) => `${w.rpc} #${w.id} ${w.code}`).join(", ")}`
      : "";

    if (last.rpc === "Register") {
      if (!leaseAlive(calls, last.args.leaseId!, lastFinalMs)) {
        skip("lease not provably alive");
        continue;
      }
      checkedPresent++;
      for (const final of finals) {
        const found = final.entries.find((e) => e.userId === userId && e.deviceId === deviceId);
        if (!found) {
          violations.push(
            `lost: ${describe} acknowledged, absent from the final lookup on registry-${final.instance}${after}`,
          );
        } else if (found.gatewayNode !== last.args.gatewayNode || found.leaseId !== last.args.leaseId) {
          violations.push(
            `wrong entry: ${describe}, registry-${final.instance} has ${found.gatewayNode} on lease ${found.leaseId}${after}`,
          );
        }
      }
    } else {
      checkedAbsent++;
      for (const final of finals) {
        if (final.entries.some((e) => e.userId === userId && e.deviceId === deviceId)) {
          violations.push(
            `resurrected: ${describe} acknowledged, present in the final lookup on registry-${final.instance}${after}`,
          );
        }
      }
    }
  }
  return { violations, checkedPresent, checkedAbsent, unchecked };
}
