import { fc } from "@fast-check/vitest";
import { afterEach, describe, expect, it } from "vitest";
import { grpc, useRegistryService } from "../testing/services.js";
import type { DropEvent } from "./events.js";
import { GatewaySession } from "./gateway-session.js";

const stack = useRegistryService({ REGISTRY_MAX_DEVICES: "2", REGISTRY_DEVICE_POLICY: "evict_oldest" });

const sessions: GatewaySession[] = [];
afterEach(async () => {
  await Promise.all(sessions.splice(0).map((s) => s.close().catch(() => {})));
});

let opened = 0;
async function gateway(name: string, ttlSeconds = 30) {
  opened += 1;
  const session = await GatewaySession.open({
    registry: grpc(stack().service.url),
    gatewayNode: `${name}-${opened}:9000`,
    ttlSeconds,
    timeoutMs: 2_000,
  });
  sessions.push(session);
  const drops: DropEvent[] = [];
  session.on("drop", (event) => drops.push(event));
  return { session, drops };
}

/** Polls until `check` holds (the Watch delivers within milliseconds; the bound is for a loaded machine). */
async function eventually(check: () => boolean | Promise<boolean>, limitMs = 10_000): Promise<void> {
  const started = performance.now();
  while (!(await check())) {
    if (performance.now() - started > limitMs) throw new Error(`not within ${limitMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Lookup and BatchLookup calls the registry has answered, from its /metrics (rendered at most once a second). */
async function lookupCalls(): Promise<{ lookup: number; batchLookup: number }> {
  await new Promise((resolve) => setTimeout(resolve, 1_100));
  const text = await (await fetch(`${stack().service.url}/metrics`)).text();
  const total = (method: string) =>
    text
      .split("\n")
      .filter((line) => line.startsWith("rpc_calls_total{") && line.includes(`method="${method}"`))
      .reduce((sum, line) => sum + Number(line.split(" ").at(-1)), 0);
  return { lookup: total("Lookup"), batchLookup: total("BatchLookup") };
}

describe("a gateway learns from the registry which of its devices to drop", () => {
  it("a device that registers on another gateway is dropped by the first, as taken over, with its new location", async () => {
    const a = await gateway("gw-a");
    const b = await gateway("gw-b");
    await a.session.register("takeover-user", "phone");
    await b.session.register("takeover-user", "phone");
    await eventually(() => a.drops.length === 1);
    expect(a.drops[0]).toMatchObject({
      userId: "takeover-user",
      deviceId: "phone",
      reason: "taken_over",
      location: { gatewayNode: b.session.gatewayNode },
    });
    expect(a.session.holds("takeover-user", "phone")).toBe(false);
    expect(b.session.holds("takeover-user", "phone")).toBe(true);
    expect(b.drops).toEqual([]);
  });

  it("a device the device limit evicts for a newcomer on another gateway is dropped by its own gateway", async () => {
    const a = await gateway("gw-a");
    const b = await gateway("gw-b");
    await a.session.register("evict-user", "old");
    await a.session.register("evict-user", "mid");
    await b.session.register("evict-user", "new");
    await eventually(() => a.drops.length === 1);
    expect(a.drops[0]).toMatchObject({ userId: "evict-user", deviceId: "old", reason: "evicted" });
    expect(a.session.holds("evict-user", "mid")).toBe(true);
  });

  it("a device unregistered by someone else (an operator) is dropped as unregistered", async () => {
    const a = await gateway("gw-a");
    await a.session.register("kicked-user", "tablet");
    await stack().observer.unregister({
      userId: "kicked-user",
      deviceId: "tablet",
      gatewayNode: a.session.gatewayNode,
    });
    await eventually(() => a.drops.length === 1);
    expect(a.drops[0]).toMatchObject({ deviceId: "tablet", reason: "unregistered" });
  });

  it("its own unregister and a lost lease drop nothing", async () => {
    const a = await gateway("gw-a", 3); // the lost lease is noticed at the next renewal, within 1 s
    await a.session.register("calm-user", "phone");
    await a.session.register("calm-user", "laptop");
    await a.session.unregister("calm-user", "phone");
    await stack().observer.revokeLease({ leaseId: a.session.leaseId! });
    const recovered = new Promise((resolve) => a.session.on("recovered", resolve));
    await recovered;
    // One more change the Watch must carry, after which the earlier events have surely been seen.
    await a.session.register("calm-user-marker", "phone");
    const marker = await gateway("gw-marker");
    await marker.session.register("calm-user-marker", "phone");
    await eventually(() => a.drops.length === 1);
    expect(a.drops.map((d) => d.userId)).toEqual(["calm-user-marker"]);
    expect(a.session.holds("calm-user", "laptop")).toBe(true);
  });

  it("a mass takeover of 2,000 devices drops them all, judged with a few BatchLookups instead of one Lookup each", async () => {
    const a = await gateway("gw-a");
    const b = await gateway("gw-b");
    const moved = Array.from({ length: 2_000 }, (_, i) => ({ userId: `mass-${i}`, deviceId: "phone" }));
    await a.session.registerAll(moved);
    const before = await lookupCalls();
    await b.session.registerAll(moved);
    await eventually(() => a.drops.length === moved.length);
    expect(a.session.deviceCount).toBe(0);
    expect(new Set(a.drops.map((d) => d.reason))).toEqual(new Set(["taken_over"]));
    const after = await lookupCalls();
    expect(after.lookup - before.lookup).toBe(0);
    expect(after.batchLookup - before.batchLookup).toBeGreaterThanOrEqual(2);
    expect(after.batchLookup - before.batchLookup).toBeLessThanOrEqual(40);
  });

  it("whatever the order of registrations across gateways, each device ends held by exactly the gateway the registry names", async () => {
    const gateways = await Promise.all(["gw-x", "gw-y", "gw-z"].map((name) => gateway(name)));
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat(2), fc.nat(3), fc.boolean()), { minLength: 1, maxLength: 12 }),
        async (moves) => {
          run += 1;
          const user = (device: number) => `prop-${run}-${device}`;
          // Each move: gateway g registers device d (of its own user, so the device limit stays out),
          // awaited or racing with the next.
          const racing: Promise<void>[] = [];
          for (const [g, d, awaited] of moves) {
            const call = gateways[g]!.session.register(user(d), "phone");
            call.catch(() => {}); // a failure is seen where it is awaited below
            if (awaited) await call;
            else racing.push(call);
          }
          await Promise.all(racing);
          const users = [...new Set(moves.map(([, d]) => user(d)))];
          const settled = async () => {
            const { devices } = await stack().observer.batchLookup({ userIds: users });
            return users.map((u) => {
              const owner = devices.find((l) => l.userId === u)?.gatewayNode;
              const holders = gateways.filter(({ session }) => session.holds(u, "phone"));
              return { u, owner, holders: holders.map(({ session }) => session.gatewayNode) };
            });
          };
          const agrees = (state: Awaited<ReturnType<typeof settled>>) =>
            state.every(({ owner, holders }) => holders.length === 1 && holders[0] === owner);
          await eventually(async () => agrees(await settled())).catch(async (error) => {
            throw new Error(`${error}: ${JSON.stringify(await settled())}`);
          });
        },
      ),
      { numRuns: Number(process.env.DROP_RUNS ?? 15) },
    );
  });
});
