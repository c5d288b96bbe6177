import { Code } from "@connectrpc/connect";
import { afterEach, describe, expect, it } from "vitest";
import { countOnLease, grpc, useRegistryService } from "../testing/services.js";
import type { DropEvent } from "./events.js";
import { GatewaySession } from "./gateway-session.js";

// Eviction is on so that drops can be seen; every other test keeps at most 2 devices per user.
const stack = useRegistryService({ REGISTRY_MAX_DEVICES: "2", REGISTRY_DEVICE_POLICY: "evict_oldest" });
const TTL_SECONDS = 3; // renewals every second; etcd (fast mode) honours TTLs down to 1 s
const DEVICES = 100;
/** Time allowed on top of one renewal interval: a new lease plus DEVICES Register calls (~600/s). */
const REREGISTER_SLACK_MS = 1_000;

const sessions: GatewaySession[] = [];
afterEach(async () => {
  await Promise.all(sessions.splice(0).map((s) => s.close().catch(() => {})));
});

let gateways = 0;
/** A session through the test's proxy (so the registry can be cut off), with DEVICES devices registered. */
async function openWithDevices(devices = DEVICES) {
  gateways += 1;
  const gatewayNode = `gw-${gateways}:9000`;
  const session = await GatewaySession.open({
    registry: grpc(stack().proxy.endpoint),
    gatewayNode,
    ttlSeconds: TTL_SECONDS,
    timeoutMs: 1_000,
  });
  sessions.push(session);
  const users = Array.from({ length: devices }, (_, i) => `${gatewayNode}-user-${i}`);
  await Promise.all(users.map((user) => session.register(user, "phone")));
  return { session, users, gatewayNode };
}

/** How many of the users' devices the registry has on this gateway's current lease. */
async function registeredOnLease(session: GatewaySession, users: string[]): Promise<number> {
  try {
    return await countOnLease(stack().observer, session, users);
  } catch {
    return -1; // the registry itself is still coming back
  }
}

/** Milliseconds from now until every device is registered on the session's lease. */
async function msUntilAllBack(session: GatewaySession, users: string[], limitMs = 15_000): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < limitMs) {
    if ((await registeredOnLease(session, users)) === users.length) {
      const ms = performance.now() - started;
      if (process.env.SHOW_RECOVERY_MS) console.log(`all ${users.length} back after ${Math.round(ms)} ms`);
      return ms;
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`devices not back within ${limitMs} ms`);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("GatewaySession against a real registry", () => {
  it("keeps every device registered over several TTLs by renewing one shared lease", async () => {
    const { session, users } = await openWithDevices(10);
    await sleep(TTL_SECONDS * 2_500);
    expect(await registeredOnLease(session, users)).toBe(10);
  });

  it("after the lease expired while the registry was unreachable, has every device back within one renewal interval of its return", async () => {
    const { session, users } = await openWithDevices();
    const lost: bigint[] = [];
    session.on("leaseLost", ({ leaseId }) => lost.push(leaseId));
    const before = session.leaseId;
    stack().proxy.cut();
    await sleep(TTL_SECONDS * 1_000 + 1_000); // the lease expires in etcd: nobody renews it
    expect(await registeredOnLease(session, users)).toBe(0);
    stack().proxy.restore();
    const ms = await msUntilAllBack(session, users);
    expect(lost).toEqual([before]);
    expect(session.leaseId).not.toBe(before);
    expect(ms).toBeLessThanOrEqual(session.renewIntervalMs + REREGISTER_SLACK_MS);
  });

  it("after etcd is wiped, has every device back within one renewal interval", async () => {
    const { session, users } = await openWithDevices();
    await stack().etcd.restart({ wipe: true });
    const ms = await msUntilAllBack(session, users);
    expect(ms).toBeLessThanOrEqual(session.renewIntervalMs + REREGISTER_SLACK_MS);
  });

  it("after the registry was down longer than the TTL, has every device back within one renewal interval of its restart", async () => {
    const { session, users } = await openWithDevices();
    await stack().service.stop();
    await sleep(TTL_SECONDS * 1_000 + 1_000);
    await stack().service.restart();
    const ms = await msUntilAllBack(session, users);
    expect(ms).toBeLessThanOrEqual(session.renewIntervalMs + REREGISTER_SLACK_MS);
  });

  it("a lease revoked behind its back is replaced at the next renewal, devices and all", async () => {
    const { session, users } = await openWithDevices(20);
    const recovered = new Promise<number>((resolve) =>
      session.on("recovered", ({ devices }) => resolve(devices)),
    );
    await stack().observer.revokeLease({ leaseId: session.leaseId! });
    const ms = await msUntilAllBack(session, users);
    expect(ms).toBeLessThanOrEqual(session.renewIntervalMs + REREGISTER_SLACK_MS);
    expect(await recovered).toBe(20);
  });

  it("reports a device the device limit evicted from this gateway as a drop, and stops re-registering it", async () => {
    const { session, gatewayNode } = await openWithDevices(0);
    const drops: DropEvent[] = [];
    session.on("drop", (event) => drops.push(event));
    const user = `${gatewayNode}-evict`;
    for (const device of ["old", "mid", "new"]) await session.register(user, device);
    expect(drops).toMatchObject([{ userId: user, deviceId: "old", reason: "evicted" }]);
    expect(session.deviceCount).toBe(2);
  });

  it("unregister removes the device's entry and recovery leaves it out", async () => {
    const { session, users } = await openWithDevices(3);
    expect(await session.unregister(users[0]!, "phone")).toBe(true);
    await stack().observer.revokeLease({ leaseId: session.leaseId! });
    await msUntilAllBack(session, users.slice(1));
    expect((await stack().observer.lookup({ userId: users[0]! })).devices).toEqual([]);
  });

  it("a device that moved to another gateway while the lease was gone is not taken back by the recovery, but dropped", async () => {
    const { session, gatewayNode } = await openWithDevices(0);
    const user = `${gatewayNode}-moved`;
    await session.register(user, "phone");
    const drops: DropEvent[] = [];
    session.on("drop", (event) => drops.push(event));
    const recovered = new Promise((resolve) => session.on("recovered", resolve));
    stack().proxy.cut();
    await sleep(TTL_SECONDS * 1_000 + 1_000); // the lease expires: nobody renews it
    const other = await GatewaySession.open({
      registry: grpc(stack().service.url),
      gatewayNode: "gw-other:9000",
    });
    sessions.push(other);
    await other.register(user, "phone"); // the device reconnected through another gateway
    stack().proxy.restore();
    await recovered;
    const { devices } = await stack().observer.lookup({ userId: user });
    expect(devices.map((d) => d.gatewayNode)).toEqual(["gw-other:9000"]);
    expect(session.holds(user, "phone")).toBe(false);
    expect(drops).toMatchObject([
      { userId: user, reason: "taken_over", location: { gatewayNode: "gw-other:9000" } },
    ]);
  });

  it("unregister right after a registration still in flight leaves no entry behind", async () => {
    const { session, gatewayNode } = await openWithDevices(0);
    const users = Array.from({ length: 20 }, (_, i) => `${gatewayNode}-brief-${i}`);
    await Promise.all(
      users.map(async (user) => {
        const registering = session.registerAll([{ userId: user, deviceId: "phone" }]);
        await session.unregister(user, "phone"); // the connection closed at once
        await registering;
      }),
    );
    const { devices } = await stack().observer.batchLookup({ userIds: users });
    expect(devices).toEqual([]);
    expect(session.deviceCount).toBe(0);
  });

  it("open() waits for a drop feed that never starts following at most one call's timeout", async () => {
    const started = performance.now();
    const session = await GatewaySession.open({
      registry: grpc(stack().proxy.endpoint),
      gatewayNode: "gw-stuck-feed:9000",
      timeoutMs: 300,
      dropFeed: () => new Promise(() => {}),
    });
    sessions.push(session);
    expect(performance.now() - started).toBeLessThan(5_000);
    await session.register("stuck-feed-user", "phone");
    expect(session.holds("stuck-feed-user", "phone")).toBe(true);
  });

  it("close() revokes the lease, removing every entry at once, and refuses later calls", async () => {
    const { session, users } = await openWithDevices(10);
    const leaseId = session.leaseId!;
    await session.close();
    const { devices } = await stack().observer.batchLookup({ userIds: users });
    expect(devices).toEqual([]);
    await expect(stack().observer.renew({ leaseId })).rejects.toMatchObject({ code: Code.NotFound });
    await expect(session.register(users[0]!, "phone")).rejects.toMatchObject({
      code: Code.FailedPrecondition,
    });
  });
});
