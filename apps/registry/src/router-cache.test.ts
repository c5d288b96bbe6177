import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { RegistryService } from "@im-core/proto";
import { RateLimiter } from "@im-core/service-kit";
import { EtcdRegistryStore } from "@im-core/stores/etcd";
// What a router imports: the same mirror the service runs, fed by the service's Watch RPC.
import {
  type ChangeEvent,
  DeviceMirror,
  entryFromWire,
  type MirrorSource,
  registryFeedSource,
} from "@im-core/stores/mirror";
import { eventually } from "@im-core/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DeviceRegistrar } from "./devices/registrar.js";
import { registryProcess } from "./testing/registry.js";

// The built app as its own process (pnpm --dir apps/registry build), so the test can restart and
// kill it under the router's open Watch stream.
const running = registryProcess({ REGISTRY_TTL_SECONDS: "1" });
// Writes made while the service is down go straight to etcd, under the service's key root.
let store: EtcdRegistryStore;
let registrar: DeviceRegistrar;
beforeAll(() => {
  store = new EtcdRegistryStore({ endpoints: running.etcd.endpoints });
  registrar = new DeviceRegistrar(
    store,
    { maxDevices: 5, policy: "reject", defaultTtlSeconds: 1 },
    new RateLimiter(100, 1_000),
  );
});
afterAll(() => store?.close());

type Located = {
  userId: string;
  deviceId: string;
  gatewayNode: string;
  connectedAtMs: number;
  leaseId: bigint;
};
const state = (entries: readonly Located[]) =>
  entries
    .map((e) => `${e.userId}/${e.deviceId}@${e.gatewayNode}|lease=${e.leaseId}|at=${e.connectedAtMs}`)
    .sort();
const label = (e: ChangeEvent) =>
  `${e.revision} ${e.type} ${e.entry.userId}/${e.entry.deviceId}@${e.entry.gatewayNode}`;

describe("router-side cache over the Watch RPC", () => {
  it("converges to the service's Lookup through register/move/unregister/expiry/revoke, and across restarts and a kill without missing or repeating an event", async () => {
    const client = createClient(RegistryService, createGrpcTransport({ baseUrl: running.service.url }));
    const users = ["alice", "bob", "carol", "dave/𝒳 %:"];
    const outsider = "mallory";
    const { leaseId: shared } = await client.grantLease({ gatewayNode: "gw-1", ttlSeconds: 60 });
    // Present before the router starts: it must come from the snapshot (BatchLookup).
    await client.register({ userId: "alice", deviceId: "phone", gatewayNode: "gw-1", leaseId: shared });

    // Tap the source to see every event the router applies and every snapshot it loads.
    const source = registryFeedSource(client, users);
    const applied: ChangeEvent[] = [];
    const snapshots: number[] = [];
    const tapped: MirrorSource = {
      snapshot: (options) =>
        source.snapshot(options).then((snapshot) => {
          snapshots.push(snapshot.revision);
          return snapshot;
        }),
      watch: (from, sink) =>
        source.watch(from, {
          ...sink,
          batch: (batch) => {
            applied.push(...batch.events);
            sink.batch(batch);
          },
        }),
    };
    const router = new DeviceMirror(tapped);
    await router.start(AbortSignal.timeout(5_000));
    expect(router.live).toBe(true);

    const serviceState = async () =>
      state((await client.batchLookup({ userIds: users })).devices.map((d) => entryFromWire(d)));
    const converged = () =>
      eventually(async () => {
        expect(state(router.entries())).toEqual(await serviceState());
      });
    await converged();
    expect(state(router.entries())).toHaveLength(1);

    // Through the service: register, move, unregister (stale and real), expiry, revoke, an outsider.
    await client.register({ userId: "bob", deviceId: "pc", gatewayNode: "gw-1", leaseId: shared });
    await client.register({ userId: "alice", deviceId: "phone", gatewayNode: "gw-2", leaseId: shared }); // move
    await client.register({ userId: "carol", deviceId: "tab", gatewayNode: "gw-1" }); // own 1 s lease: expires
    await client.register({ userId: "dave/𝒳 %:", deviceId: "d", gatewayNode: "gw-1", leaseId: shared });
    await client.register({ userId: outsider, deviceId: "d", gatewayNode: "gw-1", leaseId: shared });
    expect((await client.unregister({ userId: "bob", deviceId: "pc", gatewayNode: "gw-9" })).removed).toBe(
      false,
    );
    expect((await client.unregister({ userId: "bob", deviceId: "pc", gatewayNode: "gw-1" })).removed).toBe(
      true,
    );
    const { leaseId: doomed } = await client.grantLease({ gatewayNode: "gw-3", ttlSeconds: 60 });
    await client.register({ userId: "bob", deviceId: "watch", gatewayNode: "gw-3", leaseId: doomed });
    await client.register({ userId: "carol", deviceId: "pc", gatewayNode: "gw-3", leaseId: doomed });
    await converged();
    await client.revokeLease({ leaseId: doomed });
    await eventually(async () => {
      expect(state(router.entries()).map((s) => s.split("|")[0])).toEqual([
        "alice/phone@gw-2",
        "dave/𝒳 %:/d@gw-1",
      ]); // carol/tab expired, the revoked lease took bob/watch and carol/pc
      expect(state(router.entries())).toEqual(await serviceState());
    });

    // The stream breaks: a graceful restart (the service ends its streams), with writes while down.
    const broken = async (breakIt: () => Promise<void>, whileDown: () => Promise<void>) => {
      await breakIt();
      await eventually(() => expect(router.live).toBe(false)); // it noticed, and stopped vouching
      await whileDown();
      await running.service.restart();
      await eventually(() => expect(router.live).toBe(true));
    };
    await broken(
      () => running.service.stop(),
      async () => {
        await registrar.register({ userId: "bob", deviceId: "pc", gatewayNode: "gw-4" });
        await store.unregister({ userId: "alice", deviceId: "phone" });
      },
    );
    await client.register({ userId: "alice", deviceId: "laptop", gatewayNode: "gw-5", leaseId: shared });
    await converged();
    // ... and kill -9: the stream is cut, not ended.
    await broken(
      () => running.service.kill(),
      async () => {
        await registrar.register({ userId: "carol", deviceId: "tab", gatewayNode: "gw-6" });
        await registrar.register({
          userId: "alice",
          deviceId: "laptop",
          gatewayNode: "gw-7",
          leaseId: shared,
        });
      },
    );
    await client.register({ userId: "dave/𝒳 %:", deviceId: "e", gatewayNode: "gw-8", leaseId: shared });
    await eventually(async () => {
      // bob/pc and carol/tab (1 s leases) have expired by now, through the router too.
      expect(state(router.entries()).map((s) => s.split("|")[0])).toEqual([
        "alice/laptop@gw-7",
        "dave/𝒳 %:/d@gw-1",
        "dave/𝒳 %:/e@gw-8",
      ]);
      expect(state(router.entries())).toEqual(await serviceState());
    });

    // One snapshot, then exactly etcd's own event sequence for these users: nothing missed or repeated.
    expect(snapshots).toHaveLength(1);
    const truth: ChangeEvent[] = [];
    const last = applied.at(-1)!.revision;
    await new Promise<void>((resolve, reject) => {
      const handle = store.watch(snapshots[0]! + 1, {
        batch: (batch) => {
          truth.push(...batch.events.filter((e) => users.includes(e.entry.userId)));
          if (batch.revision >= last) {
            handle.close();
            resolve();
          }
        },
        error: reject,
      });
    });
    expect(applied.map(label)).toEqual(truth.map(label));
    expect(applied.some((e) => e.entry.userId === outsider)).toBe(false);
    router.close();
  });

  it("the running process exposes the registry's metrics", async () => {
    const client = createClient(RegistryService, createGrpcTransport({ baseUrl: running.service.url }));
    await client.register({ userId: "metrics", deviceId: "d", gatewayNode: "gw" });
    const text = await (await fetch(`${running.service.url}/metrics`)).text();
    expect(text).toMatch(/^registry_mirror_entries\{[^}]*\} [1-9]\d*$/m);
    expect(text).toMatch(/^registry_mirror_revision\{[^}]*\} [1-9]\d*$/m);
    expect(text).toMatch(/^registry_mirror_live\{[^}]*\} 1$/m);
    expect(text).toMatch(/^registry_watch_lagged_total\{[^}]*\} 0$/m);
  });
});
