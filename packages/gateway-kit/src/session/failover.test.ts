import { createClient } from "@connectrpc/connect";
import { RegistryService } from "@im-core/proto/registry/v1";
import { registryEntry } from "@im-core/registry/entry";
import { startEtcd, startService, startTcpProxy } from "@im-core/testkit";
import { forFile } from "@im-core/testkit/vitest";
import { describe, expect, it } from "vitest";
import { countOnLease, grpc } from "../testing/services.js";
import type { DropEvent } from "./events.js";
import { GatewaySession } from "./gateway-session.js";

/** Two registry instances on one etcd, and a proxy a gateway reaches them through (a load balancer). */
const stack = forFile(
  async () => {
    const etcd = await startEtcd();
    const env = { ETCD_ENDPOINTS: etcd.endpoints.join(","), AUTH_DISABLED: "true", SHUTDOWN_GRACE_MS: "500" };
    const [first, second] = await Promise.all([
      startService({ entry: registryEntry, env }),
      startService({ entry: registryEntry, env }),
    ]);
    const balancer = await startTcpProxy(first.port);
    return { etcd, first, second, balancer };
  },
  async ({ etcd, first, second, balancer }) => {
    await balancer.close();
    await Promise.all([first.dispose(), second.dispose()]);
    await etcd.dispose();
  },
);

describe("a registry instance failing over to another", () => {
  it("keeps the session's devices registered and its drops coming, from the other instance", async () => {
    const { first, second, balancer } = stack();
    const a = await GatewaySession.open({
      registry: grpc(balancer.endpoint),
      gatewayNode: "gw-failover-a:9000",
      ttlSeconds: 3,
      timeoutMs: 1_000,
    });
    const b = await GatewaySession.open({ registry: grpc(second.url), gatewayNode: "gw-failover-b:9000" });
    const drops: DropEvent[] = [];
    a.on("drop", (event) => drops.push(event));
    const users = Array.from({ length: 50 }, (_, i) => `failover-user-${i}`);
    try {
      await a.registerAll(users.map((userId) => ({ userId, deviceId: "phone" })));
      const lease = a.leaseId;

      balancer.switchTo(second.port); // every open connection dropped, new ones go to the other instance
      await first.stop();
      await new Promise((resolve) => setTimeout(resolve, 4_000)); // more than the TTL: renewals must go on

      const observer = createClient(RegistryService, grpc(second.url));
      expect(a.leaseId).toBe(lease); // renewed through the other instance, never lost
      expect(await countOnLease(observer, a, users)).toBe(users.length);

      await b.register(users[0]!, "phone"); // a takeover after the failover reaches A's resumed Watch
      const started = performance.now();
      while (drops.length === 0 && performance.now() - started < 10_000) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(drops).toMatchObject([{ userId: users[0], reason: "taken_over" }]);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  }, 30_000);
});
