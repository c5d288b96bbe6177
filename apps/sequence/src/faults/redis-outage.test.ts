import { Code } from "@connectrpc/connect";
import { httpGet } from "@im-core/testkit";
import { describe, expect, it } from "vitest";
import { codeOf, useTestSequence } from "../testing/sequence.js";

const backend = useTestSequence();
const url = () => backend.sequence.url;

const client = () => backend.sequence.client;
const group = (value: string) => ({ kind: { case: "groupId" as const, value } });

describe("Redis outage", () => {
  it("Redis down: UNAVAILABLE fast, and recovery by itself", async () => {
    const c = client();
    const before = await c.next({ conversation: group("rpc-down") });
    await backend.redis.stop();
    try {
      const started = performance.now();
      const [code] = await codeOf(c.next({ conversation: group("rpc-down") }));
      expect(code).toBe(Code.Unavailable);
      expect(performance.now() - started).toBeLessThan(1_500);
    } finally {
      await backend.redis.restart();
    }
    await expect
      .poll(
        () =>
          c.next({ conversation: group("rpc-down") }).then(
            (r) => r.first > before.last,
            () => false,
          ),
        { timeout: 5_000 },
      )
      .toBe(true);
  });
  it("/readyz stays ready while Redis hangs for every instance (paused), naming it as degraded, then turns ok", async () => {
    const readiness = () =>
      httpGet(`${url()}/readyz`).then(({ status, body }) => ({ http: status, ...JSON.parse(body) }));
    expect(await readiness()).toEqual({
      http: 200,
      ready: true,
      status: "ok",
      checks: { redis: "ok", mysql: "ok" },
    });
    backend.redis.pause();
    try {
      // Readiness answers the last background probe (one a second, each bounded by 1 s, and its
      // fresh connection by as much again).
      await expect.poll(readiness, { timeout: 8_000 }).toEqual({
        http: 200,
        ready: true,
        status: "degraded",
        checks: { redis: "unavailable: no answer within 1000 ms", mysql: "ok" },
      });
    } finally {
      backend.redis.resume();
    }
    await expect.poll(readiness, { timeout: 5_000 }).toMatchObject({ status: "ok" });
  });
});
