import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Health, HealthCheckResponse_ServingStatus } from "@im-core/proto/grpc/health/v1";
import { type EtcdCluster, httpGet, startEtcdCluster } from "@im-core/testkit";
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

/** What a load balancer and an operator see: /readyz's code and body, and gRPC health by name. */
async function seen() {
  const readyz = await httpGet(`${registry.url}/readyz`);
  const health = createClient(Health, createGrpcTransport({ baseUrl: registry.url }));
  const status = async (service: string) =>
    HealthCheckResponse_ServingStatus[(await health.check({ service })).status];
  return {
    readyz: { http: readyz.status, ...JSON.parse(readyz.body) },
    health: { service: await status("im.registry.v1.RegistryService"), etcd: await status("etcd") },
  };
}

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
        health: { service: "SERVING", etcd: "NOT_SERVING" },
      });
      console.log(`during an etcd quorum loss: ${JSON.stringify(await seen())}`);
    } finally {
      await Promise.all([second!.restart(), third!.restart()]);
    }
    await expect.poll(async () => (await seen()).readyz.status, { timeout: 15_000 }).toBe("ok");
  });
});
