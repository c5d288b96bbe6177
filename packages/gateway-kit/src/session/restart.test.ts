import { describe, expect, it } from "vitest";
import { countOnLease, grpc, useRegistryService } from "../testing/services.js";
import { GatewaySession } from "./gateway-session.js";

const stack = useRegistryService();
const DEVICES = 10_000;
const users = Array.from({ length: DEVICES }, (_, i) => `restart-user-${i}`);
const devices = users.map((userId) => ({ userId, deviceId: "phone" }));
const show = (what: string, ms: number) => {
  if (process.env.SHOW_RECOVERY_MS) console.log(`${what}: ${Math.round(ms)} ms`);
};

describe("a gateway node restarting with 10,000 connected devices", () => {
  it("registers them all again on its new lease in bulk; the old incarnation's lease ending removes none of them", async () => {
    const session = (registry: string) =>
      GatewaySession.open({ registry: grpc(registry), gatewayNode: "gw-restart:9000", ttlSeconds: 30 });
    // The first incarnation, through the proxy so that it can "die" without revoking its lease.
    const before = await session(stack().proxy.endpoint);
    let started = performance.now();
    const first = await before.registerAll(devices);
    show("first registration", performance.now() - started);
    expect(first.filter((o) => o.ok)).toHaveLength(DEVICES);
    stack().proxy.cut();

    const after = await session(stack().service.url);
    try {
      started = performance.now();
      const again = await after.registerAll(devices);
      show("after the restart", performance.now() - started);
      expect(again.filter((o) => o.ok)).toHaveLength(DEVICES);
      expect(await countOnLease(stack().observer, after, users)).toBe(DEVICES);

      // The dead incarnation's lease ends (as it would expire): the entries moved to the new lease stay.
      await stack().observer.revokeLease({ leaseId: before.leaseId! });
      expect(await countOnLease(stack().observer, after, users)).toBe(DEVICES);

      // And the new lease lost behind the session's back: all 10,000 are back on a new one.
      const recovered = new Promise<{ devices: number; elapsedMs: number }>((resolve) =>
        after.on("recovered", resolve),
      );
      await stack().observer.revokeLease({ leaseId: after.leaseId! });
      const { devices: count, elapsedMs } = await recovered;
      show("recovery after a lost lease", elapsedMs);
      expect(count).toBe(DEVICES);
      expect(await countOnLease(stack().observer, after, users)).toBe(DEVICES);
    } finally {
      stack().proxy.restore();
      await before.close().catch(() => {});
      await after.close();
    }
  }, 120_000);
});
