import { etcdJson } from "@im-core/testkit";
import { describe, expect, it } from "vitest";
import { grpc, useRegistryService } from "../testing/services.js";
import type { DropEvent } from "./events.js";
import { GatewaySession } from "./gateway-session.js";

// A short history of recent events, so that a gap of a few hundred events is not served from memory.
const stack = useRegistryService({ REGISTRY_WATCH_BACKLOG: "100" });

async function eventually(check: () => boolean, limitMs = 15_000): Promise<void> {
  const started = performance.now();
  while (!check()) {
    if (performance.now() - started > limitMs) throw new Error(`not within ${limitMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("a gap in the gateway's Watch (its history compacted while it was cut off)", () => {
  it("is closed by checking every held device: the moved one is dropped as taken over, the removed one as gone, the rest kept", async () => {
    const open = (registry: string, gatewayNode: string) =>
      GatewaySession.open({ registry: grpc(registry), gatewayNode, ttlSeconds: 30, timeoutMs: 2_000 });
    const a = await open(stack().proxy.endpoint, "gw-gap-a:9000");
    const b = await open(stack().service.url, "gw-gap-b:9000");
    const drops: DropEvent[] = [];
    a.on("drop", (event) => drops.push(event));
    try {
      await a.registerAll(["moved", "removed", "kept"].map((userId) => ({ userId, deviceId: "phone" })));

      stack().proxy.cut(); // gateway A's Watch (and renewals) are cut off
      await b.register("moved", "phone");
      await stack().observer.unregister({ userId: "removed", deviceId: "phone", gatewayNode: a.gatewayNode });
      // More events than the registry keeps for resuming clients, then etcd's history compacted away.
      await b.registerAll(Array.from({ length: 300 }, (_, i) => ({ userId: `filler-${i}`, deviceId: "d" })));
      const { revision } = await stack().observer.lookup({ userId: "moved" });
      await etcdJson(stack().etcd.endpoints[0]!, "/v3/kv/compaction", {
        revision: String(revision),
        physical: true,
      });
      stack().proxy.restore();

      await eventually(() => drops.length === 2);
      const byUser = Object.fromEntries(drops.map((d) => [d.userId, d]));
      expect(byUser.moved).toMatchObject({ reason: "taken_over", location: { gatewayNode: b.gatewayNode } });
      expect(byUser.removed).toMatchObject({ reason: "gone" });
      expect(a.holds("kept", "phone")).toBe(true);
      expect(a.deviceCount).toBe(1);
    } finally {
      stack().proxy.restore();
      await Promise.all([a.close(), b.close()]);
    }
  });
});
