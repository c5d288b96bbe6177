import { StoreError } from "@im-core/common";
import { etcdJson, eventually, kindOf, startEtcd } from "@im-core/testkit";
import { Etcd3, type IWatchRequest } from "etcd3";
import { describe, expect, it } from "vitest";
import type { ChangeBatch } from "../devices.js";
import { putDevice } from "../testing/etcd.js";
import { connectEtcd } from "./client.js";
import { KeyLayout, prefixEnd } from "./keys.js";
import { EtcdRegistryStore } from "./registry-store.js";
import { watchDevices } from "./watch.js";

/** Follows a watch: its batches, whether it is connected, and the failure that ended it. */
function follow(etcd: Etcd3, layout: KeyLayout, fromRevision: number) {
  const state = { batches: [] as ChangeBatch[], connected: false, failure: undefined as Error | undefined };
  watchDevices(etcd, layout, fromRevision, {
    batch: (batch) => state.batches.push(batch),
    error: (error) => {
      state.failure = error;
    },
    connection: (connected) => {
      state.connected = connected;
    },
  });
  return state;
}

// Every case on an etcd of its own: each compacts, cancels or locks down the etcd it watches.
describe.concurrent("how a watch etcd cancelled ends", () => {
  it("fails a watch from a compacted revision with out_of_range", async () => {
    await using server = await startEtcd();
    const store = new EtcdRegistryStore({ endpoints: server.endpoints, callTimeoutMs: 3_000 });
    try {
      const from = (await putDevice(store, { userId: "u", deviceId: "d", gatewayNode: "gw" })).revision;
      await putDevice(store, { userId: "u", deviceId: "d", gatewayNode: "gw2" });
      const now = await store.currentRevision();
      await etcdJson(server.endpoints[0]!, "/v3/kv/compaction", { revision: String(now), physical: true });
      expect(await kindOf(store.assertHistoryFrom(from))).toBe("out_of_range");
      const failure = await new Promise<Error>((resolve) => {
        store.watch(from, { batch: () => {}, error: resolve });
      });
      expect(failure).toBeInstanceOf(StoreError);
      expect((failure as StoreError).kind).toBe("out_of_range");
      expect(failure.message).toMatch(new RegExp(`compacted \\(etcd keeps history from revision ${now}\\)`));
      // The next revision is fine (a watch from it waits); beyond it, the client's history was lost.
      await store.assertHistoryFrom(now + 1);
      expect(await kindOf(store.assertHistoryFrom(now + 1000))).toBe("out_of_range");
    } finally {
      store.close();
    }
  });

  it("ends a watch etcd cancelled without a reason and without compaction with unavailable, to be resumed", async () => {
    await using server = await startEtcd();
    const store = new EtcdRegistryStore({ endpoints: server.endpoints, callTimeoutMs: 3_000 });
    const client = connectEtcd(server.endpoints);
    // The stream etcd3 opens, and the id etcd gave the watch on it, to cancel it from outside etcd3.
    const opened: { write(request: IWatchRequest): void }[] = [];
    const ids: string[] = [];
    const open = client.watchClient.watch.bind(client.watchClient);
    client.watchClient.watch = async (...args: Parameters<typeof open>) => {
      const stream = await open(...args);
      stream.on("data", (response) => response.created && ids.push(response.watch_id));
      opened.push(stream);
      return stream;
    };
    try {
      const from = (await store.currentRevision()) + 1;
      const watch = follow(client, store.layout, from);
      await eventually(() => expect(watch.connected).toBe(true));
      // etcd answers a cancel request with `canceled` and neither a reason nor a compact revision:
      // etcd3 did not ask for it, so it reports it like a cancellation by the server.
      opened[0]!.write({ cancel_request: { watch_id: ids[0]! } });
      await eventually(() => expect(watch.failure).toBeDefined());
      expect(watch.failure).toBeInstanceOf(StoreError);
      expect((watch.failure as StoreError).kind).toBe("unavailable");
      expect(watch.failure!.message).toContain("no reason given");
      // Nothing was lost: the watch resumed where it ended sees what happened since.
      const resumed = follow(client, store.layout, from);
      await putDevice(store, { userId: "u", deviceId: "d", gatewayNode: "gw" });
      await eventually(() => expect(resumed.batches.flatMap((b) => b.events)).toHaveLength(1));
      expect(resumed.failure).toBeUndefined();
    } finally {
      client.close();
      store.close();
    }
  });

  it("ends a watch etcd refused with a reason (permission denied) with unavailable, not out_of_range", async () => {
    await using server = await startEtcd();
    const endpoint = server.endpoints[0]!;
    const layout = new KeyLayout("/t/denied/");
    const b64 = (bytes: Buffer | string) => Buffer.from(bytes).toString("base64");
    // A user who may read elsewhere only; auth on, which takes a root user holding the root role.
    await etcdJson(endpoint, "/v3/auth/role/add", { name: "root" });
    await etcdJson(endpoint, "/v3/auth/user/add", { name: "root", password: "root-pw" });
    await etcdJson(endpoint, "/v3/auth/user/grant", { user: "root", role: "root" });
    await etcdJson(endpoint, "/v3/auth/role/add", { name: "elsewhere" });
    await etcdJson(endpoint, "/v3/auth/role/grant", {
      name: "elsewhere",
      perm: { permType: "READ", key: b64("/elsewhere/"), range_end: b64(prefixEnd("/elsewhere/")) },
    });
    await etcdJson(endpoint, "/v3/auth/user/add", { name: "reader", password: "reader-pw" });
    await etcdJson(endpoint, "/v3/auth/user/grant", { user: "reader", role: "elsewhere" });
    await etcdJson(endpoint, "/v3/auth/enable", {});
    const client = new Etcd3({
      hosts: server.endpoints,
      auth: { username: "reader", password: "reader-pw" },
    });
    try {
      const watch = follow(client, layout, 1);
      await eventually(() => expect(watch.failure).toBeDefined());
      expect(watch.failure).toBeInstanceOf(StoreError);
      expect((watch.failure as StoreError).kind).toBe("unavailable");
      expect(watch.failure!.message).toContain("permission denied");
    } finally {
      client.close();
    }
  });
});
