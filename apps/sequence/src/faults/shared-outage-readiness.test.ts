import { readinessSeen } from "@im-core/testkit";
import { describe, expect, it } from "vitest";
import { useTestSequence } from "../testing/sequence.js";

const backend = useTestSequence();
const group = (value: string) => ({ kind: { case: "groupId" as const, value } });

const SERVICE = "im.sequence.v1.SequenceService";
const seen = () => readinessSeen(backend.sequence.url, [SERVICE, "mysql"]);

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
        health: { [SERVICE]: "SERVING", mysql: "NOT_SERVING" },
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
