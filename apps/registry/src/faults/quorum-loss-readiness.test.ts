import { type EtcdCluster, readinessSeen, startEtcdCluster } from "@im-core/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestRegistry, type TestRegistry } from "../testing/registry.js";

let cluster: EtcdCluster;
let registry: TestRegistry;
beforeAll(async () => {
  cluster = await startEtcdCluster({ size: 3 });
  registry = await startTestRegistry({ endpoints: cluster.endpoints });
});
afterAll(async () => {
  await registry?.close();
  await cluster?.dispose();
});

const SERVICE = "im.registry.v1.RegistryService";
const seen = () => readinessSeen(registry.url, [SERVICE, "etcd"]);

describe("an etcd quorum loss every instance shares", () => {
  it("leaves the instance ready (degraded, naming etcd) and ok again once the quorum is back", async () => {
    const [, second, third] = cluster.nodes;
    await Promise.all([second!.stop(), third!.stop()]);
    try {
      await expect.poll(seen, { timeout: 10_000 }).toMatchObject({
        readyz: {
          http: 200,
          ready: true,
          status: "degraded",
          checks: { etcd: expect.stringMatching(/^unavailable: /) },
        },
        health: { [SERVICE]: "SERVING", etcd: "NOT_SERVING" },
      });
      console.log(`during an etcd quorum loss: ${JSON.stringify(await seen())}`);
    } finally {
      await Promise.all([second!.restart(), third!.restart()]);
    }
    await expect.poll(async () => (await seen()).readyz.status, { timeout: 15_000 }).toBe("ok");
  });
});
