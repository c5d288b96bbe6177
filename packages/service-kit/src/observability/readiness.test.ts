import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { sleep } from "@im-core/common";
import { Health, HealthCheckResponse_ServingStatus } from "@im-core/proto/grpc/health/v1";
import { describe, expect, it } from "vitest";
import type { ReadinessCheck } from "../health.js";
import { startObservedServer } from "../testing/observed-server.js";
import { CachedReadiness } from "./readiness.js";

function countingCheck(name: string, run: () => Promise<void> = async () => {}) {
  const check = {
    name,
    runs: 0,
    check() {
      check.runs += 1;
      return run();
    },
  };
  return check satisfies ReadinessCheck;
}

describe("CachedReadiness", () => {
  it("waits for the first probe, then answers every caller from it until the next", async () => {
    const check = countingCheck("db", () => sleep(30));
    const readiness = new CachedReadiness([check], { timeoutMs: 1_000, refreshMs: 10_000 });
    try {
      const reports = await Promise.all(Array.from({ length: 100 }, () => readiness.report()));
      expect(reports.every((report) => report.ready)).toBe(true);
      for (let i = 0; i < 100; i += 1) await readiness.report();
      expect(check.runs).toBe(1);
    } finally {
      readiness.close();
    }
  });

  it("refreshes in the background, one probe at a time, and stops when closed", async () => {
    let up = true;
    const check = countingCheck("db", async () => {
      if (!up) throw new Error("connection refused");
    });
    const readiness = new CachedReadiness([check], { timeoutMs: 1_000, refreshMs: 20 });
    expect(await readiness.report()).toEqual({ ready: true, status: "ok", checks: { db: "ok" } });
    up = false;
    await expect
      .poll(() => readiness.report(), { timeout: 2_000 })
      .toEqual({ ready: true, status: "degraded", checks: { db: "unavailable: connection refused" } });
    readiness.close();
    const runs = check.runs;
    await sleep(100);
    expect(check.runs).toBe(runs);
  });

  it("bounds a probe by its timeout, and never starts a check again while its last run hangs", async () => {
    // A check that ignores its abort signal, like a query on a pool whose server stopped answering.
    const hung = countingCheck("mysql", () => new Promise<void>(() => {}));
    const readiness = new CachedReadiness([hung, countingCheck("redis")], { timeoutMs: 30, refreshMs: 10 });
    try {
      const started = performance.now();
      expect(await readiness.report()).toEqual({
        ready: true,
        status: "degraded",
        checks: { mysql: "unavailable: no answer within 30 ms", redis: "ok" },
      });
      expect(performance.now() - started).toBeLessThan(1_000);
      await sleep(200); // several more probes
      expect(hung.runs).toBe(1);
    } finally {
      readiness.close();
    }
  });
});

describe("readiness of a server", () => {
  it("answers a /readyz flood and gRPC health (Check and List) from the cached probe, and follows the backend (a shared outage: degraded)", async () => {
    const backend = { up: true };
    const { server, baseUrl, readinessChecks } = await startObservedServer(
      { readinessRefreshMs: 50 },
      backend,
    );
    const health = createClient(Health, createGrpcTransport({ baseUrl }));
    try {
      const statuses = await Promise.all(
        Array.from({ length: 300 }, async () => (await fetch(`${baseUrl}/readyz`)).status),
      );
      await Promise.all(Array.from({ length: 100 }, () => health.check({})));
      expect(new Set(statuses)).toEqual(new Set([200]));
      // One probe per refresh interval at most, not one per request (400 were made).
      expect(readinessChecks()).toBeLessThan(30);

      backend.up = false;
      await expect
        .poll(async () => (await health.check({ service: "backend" })).status, { timeout: 2_000 })
        .toBe(HealthCheckResponse_ServingStatus.NOT_SERVING);
      expect((await health.check({})).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
      const listed = (await health.list({})).statuses;
      expect(Object.fromEntries(Object.entries(listed).map(([name, s]) => [name, s.status]))).toMatchObject({
        "": HealthCheckResponse_ServingStatus.SERVING,
        backend: HealthCheckResponse_ServingStatus.NOT_SERVING,
      });
      const response = await fetch(`${baseUrl}/readyz`);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({
        ready: true,
        status: "degraded",
        checks: { backend: "unavailable: connection refused" },
      });
    } finally {
      await server.close();
    }
    // close() stopped the probing.
    const checks = readinessChecks();
    await sleep(200);
    expect(readinessChecks()).toBe(checks);
  });
});
