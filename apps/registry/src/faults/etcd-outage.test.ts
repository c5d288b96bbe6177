import { startEtcd } from "@im-core/testkit";
import { describe, expect, it } from "vitest";
import { codeOf, devicesOf, startTestRegistry } from "../testing/registry.js";

describe("etcd outage", () => {
  it("answers UNAVAILABLE within the deadline while etcd is down, and recovers by itself", async () => {
    const own = await startEtcd();
    let registry: Awaited<ReturnType<typeof startTestRegistry>> | undefined;
    try {
      registry = await startTestRegistry({ endpoints: own.endpoints, callTimeoutMs: 1_500 });
      const { client } = registry;
      await client.register({ userId: "u", deviceId: "d", gatewayNode: "gw" });
      own.pause();
      const started = Date.now();
      expect(await codeOf(client.register({ userId: "u", deviceId: "e", gatewayNode: "gw" }))).toBe(
        "Unavailable",
      );
      expect(Date.now() - started).toBeLessThan(2_500);
      // Lookups come from the mirror until its watch is known broken (gRPC keepalive: 5 + 2 s), then etcd.
      while ((await codeOf(client.lookup({ userId: "u" }))) === "OK") {
        expect(Date.now() - started).toBeLessThan(10_000);
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(await codeOf(client.lookup({ userId: "u" }))).toBe("Unavailable");
      own.resume();
      const deadline = Date.now() + 10_000;
      while ((await codeOf(client.register({ userId: "u", deviceId: "e", gatewayNode: "gw" }))) !== "OK") {
        expect(Date.now()).toBeLessThan(deadline);
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(devicesOf(await client.lookup({ userId: "u" }))).toEqual(["u/d@gw", "u/e@gw"]);
    } finally {
      await registry?.close();
      await own.dispose();
    }
  });
});
