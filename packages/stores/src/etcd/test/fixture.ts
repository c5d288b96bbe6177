import { randomBytes } from "node:crypto";
import { type EtcdServer, startEtcd } from "@im-core/testkit";
import { afterAll, beforeAll } from "vitest";
import { EtcdRegistryStore, type EtcdRegistryStoreOptions } from "../store.js";
import type { DeviceEntry } from "../types.js";

/**
 * One etcd per test file; every store gets its own key root, so cases run concurrently on it without
 * seeing each other's keys.
 */
export function useEtcd() {
  let etcd: EtcdServer | undefined;
  const stores: EtcdRegistryStore[] = [];
  beforeAll(async () => {
    etcd = await startEtcd();
  });
  afterAll(async () => {
    for (const store of stores) store.close();
    await etcd?.dispose();
  });
  return {
    get server(): EtcdServer {
      if (!etcd) throw new Error("etcd not started");
      return etcd;
    },
    store(options: Partial<EtcdRegistryStoreOptions> = {}): EtcdRegistryStore {
      const store = new EtcdRegistryStore({
        endpoints: this.server.endpoints,
        defaultTtlSeconds: 60,
        maxDevices: 5,
        devicePolicy: "reject",
        callTimeoutMs: 3_000,
        keyRoot: `/t/${randomBytes(6).toString("hex")}/`,
        ...options,
      });
      stores.push(store);
      return store;
    },
  };
}

export { eventually } from "@im-core/testkit";

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** "device@gateway" per device, sorted: compact to compare in assertions. */
export function where(entries: readonly DeviceEntry[]): string[] {
  return entries.map((e) => `${e.userId}/${e.deviceId}@${e.gatewayNode}`).sort();
}
