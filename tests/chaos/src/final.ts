import { sleep } from "@im-core/common";
import type { FinalLookup } from "./checker/registry.js";
import type { RegistryClient } from "./clients.js";
import type { History } from "./history.js";
import { CALL_TIMEOUT_MS } from "./workers/context.js";

const FINAL = "final";

/** Retries `attempt` (a recorded call) until it says it is done, or the time is up. */
async function retry(timeoutMs: number, attempt: () => Promise<boolean>): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await attempt()) return true;
    await sleep(500);
  }
  return false;
}

/**
 * One Renew of every lease an acknowledged Register used, right before the final lookups: a lease whose
 * Renew is acknowledged now is provably alive during them (its TTL is far longer). Answers NOT_FOUND end
 * the retries too (the lease is gone; the checker does not expect its devices).
 */
export async function renewAll(
  history: History,
  clients: RegistryClient[],
  problems: string[],
): Promise<void> {
  const leases = new Set(
    history.calls
      .filter((c) => c.rpc === "Register" && c.outcome === "ok")
      .map((c) => String((c.args as { leaseId: string }).leaseId)),
  );
  await Promise.all(
    [...leases].map(async (leaseId, i) => {
      const done = await retry(60_000, async () => {
        const instance = i % clients.length;
        const record = await history.record(
          { worker: FINAL, service: "registry", rpc: "Renew", instance, args: { leaseId } },
          () => clients[instance]!.renew({ leaseId: BigInt(leaseId) }, { timeoutMs: CALL_TIMEOUT_MS }),
          (r) => ({ ttlSeconds: r.ttlSeconds }),
        );
        return record.outcome === "ok" || (record.code === "not_found" && record.answered === true);
      });
      if (!done) problems.push(`final Renew of lease ${leaseId} never answered`);
    }),
  );
}

/** Every user's devices as each instance sees them, once every fault is healed. */
export async function finalLookups(
  history: History,
  clients: RegistryClient[],
  userIds: string[],
  problems: string[],
): Promise<FinalLookup[]> {
  const finals: FinalLookup[] = [];
  for (const [instance, client] of clients.entries()) {
    const done = await retry(90_000, async () => {
      const record = await history.record(
        { worker: FINAL, service: "registry", rpc: "BatchLookup", instance, args: { userIds } },
        () => client.batchLookup({ userIds }, { timeoutMs: CALL_TIMEOUT_MS }),
        (r) => ({
          revision: Number(r.revision),
          entries: r.devices.map((d) => ({
            userId: d.userId,
            deviceId: d.deviceId,
            gatewayNode: d.gatewayNode,
            leaseId: String(d.leaseId),
          })),
        }),
      );
      if (record.outcome !== "ok") return false;
      const { entries } = record.result as { entries: FinalLookup["entries"] };
      finals.push({ instance, completeMs: record.completeMs, entries });
      return true;
    });
    if (!done) problems.push(`final BatchLookup on registry-${instance} never succeeded`);
  }
  return finals;
}
