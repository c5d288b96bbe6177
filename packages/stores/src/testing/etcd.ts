import { randomBytes } from "node:crypto";
import { type EtcdServer, startEtcd } from "@im-core/testkit";
import { forFile } from "@im-core/testkit/vitest";
import { afterAll } from "vitest";
import type { DeviceEntry } from "../devices.js";
import { EtcdRegistryStore, type EtcdRegistryStoreOptions } from "../etcd/registry-store.js";

/**
 * One etcd per test file; every store gets its own key root, so cases run concurrently on it without
 * seeing each other's keys. A case that compacts or restarts etcd starts its own instead.
 */
export function useEtcd() {
  const stores: EtcdRegistryStore[] = [];
  const etcd = forFile(startEtcd, (server) => server.dispose());
  // Registered after the etcd's: runs before it.
  afterAll(() => {
    for (const store of stores) store.close();
  });
  return {
    get server(): EtcdServer {
      return etcd();
    },
    store(options: Partial<EtcdRegistryStoreOptions> = {}): EtcdRegistryStore {
      const store = new EtcdRegistryStore({
        endpoints: this.server.endpoints,
        callTimeoutMs: 3_000,
        keyRoot: `/t/${randomBytes(6).toString("hex")}/`,
        ...options,
      });
      stores.push(store);
      return store;
    },
  };
}

/**
 * Puts a device's entry the way the service does, without its rules (no device limit): on `leaseId`,
 * or on a lease of its own with `ttlSeconds` (default 60).
 */
export async function putDevice(
  store: EtcdRegistryStore,
  device: { userId: string; deviceId: string; gatewayNode: string; leaseId?: bigint; ttlSeconds?: number },
): Promise<{ leaseId: bigint; revision: number; connectedAtMs: number }> {
  const leaseId =
    device.leaseId ?? (await store.grantLease(device.ttlSeconds ?? 60, device.gatewayNode)).leaseId;
  for (;;) {
    const { revision: unchangedSince } = await store.readUser(device.userId);
    const connectedAtMs = Date.now();
    const outcome = await store.writeDevice({ ...device, leaseId, connectedAtMs, evict: [], unchangedSince });
    if (outcome.written) return { leaseId, revision: outcome.revision, connectedAtMs };
  }
}

export { sleep } from "@im-core/common";
export { eventually } from "@im-core/testkit";

/** "user/device@gateway" per entry, sorted: compact to compare in assertions. */
export function where(entries: readonly DeviceEntry[]): string[] {
  return entries.map((e) => `${e.userId}/${e.deviceId}@${e.gatewayNode}`).sort();
}
