import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Health, HealthCheckResponse_ServingStatus } from "@im-core/proto/grpc/health/v1";
import { httpGet } from "@im-core/testkit";
import { describe, expect, it } from "vitest";
import { useTestSequence } from "../testing/sequence.js";

const backend = useTestSequence();
const group = (value: string) => ({ kind: { case: "groupId" as const, value } });

/** What a load balancer and an operator see: /readyz's code and body, and gRPC health by name. */
async function seen() {
  const { url } = backend.sequence;
  const readyz = await httpGet(`${url}/readyz`);
  const health = createClient(Health, createGrpcTransport({ baseUrl: url }));
  const status = async (service: string) =>
    HealthCheckResponse_ServingStatus[(await health.check({ service })).status];
  return {
    readyz: { http: readyz.status, ...JSON.parse(readyz.body) },
    health: { service: await status("im.sequence.v1.SequenceService"), mysql: await status("mysql") },
  };
}

describe("a MySQL outage every instance shares", () => {
  it("leaves the instance ready (degraded, naming MySQL) and serving the numbers it has reserved", async () => {
    const { client } = backend.sequence;
    const started = await client.next({ conversation: group("shared-outage") });
    await backend.mariadb.kill();
    try {
      // Readiness answers the last background probe (about one a second).
      await expect.poll(seen, { timeout: 8_000 }).toMatchObject({
        readyz: {
          http: 200,
          ready: true,
          status: "degraded",
          checks: { mysql: expect.stringMatching(/^unavailable: /) },
        },
        health: { service: "SERVING", mysql: "NOT_SERVING" },
      });
      console.log(`during a MySQL outage: ${JSON.stringify(await seen())}`);
      const next = await client.next({ conversation: group("shared-outage") });
      expect(next.first).toBe(started.last + 1n);
    } finally {
      await backend.mariadb.restart();
    }
    await expect.poll(async () => (await seen()).readyz.status, { timeout: 8_000 }).toBe("ok");
  });
});
