import http from "node:http";
import { sleep } from "@im-core/common";
import { httpGet } from "@im-core/testkit";
import { describe, expect, it } from "vitest";
import { cpuTimeMs, flood } from "./testing/flood.js";
import { abuseStack, responsiveness } from "./testing/stack.js";

const stack = abuseStack();
const FLOOD = { concurrency: 50, durationMs: 3_000, maxRequests: 30_000 };

describe("a flood of GET /metrics", () => {
  it("costs the service little CPU per scrape and leaves it responsive", async () => {
    const { registry } = stack.servers;
    const clients = stack.clients();
    const lookup = (signal: AbortSignal) => clients.registry.lookup({ userId: "metrics-flood" }, { signal });
    await lookup(AbortSignal.timeout(10_000));
    // Keep-alive, as a scraper runs: what is measured is the render, not connection set-up.
    const agent = new http.Agent({ keepAlive: true, maxSockets: FLOOD.concurrency });
    const pid = registry.pid;
    if (pid === undefined) throw new Error("registry is not running");

    const cpuBefore = cpuTimeMs(pid);
    const scrapes = flood(FLOOD, () =>
      httpGet(`${registry.url}/metrics`, { agent }).then(({ status }) => status),
    );
    await sleep(1_000);
    const during = await responsiveness(registry, lookup);
    const result = await scrapes;
    const cpuMs = cpuTimeMs(pid) - cpuBefore;
    agent.destroy();
    const after = await responsiveness(registry, lookup);
    const cpuPerScrapeMs = cpuMs / result.sent;

    console.log(
      `/metrics flood (${FLOOD.concurrency} keep-alive connections, ${FLOOD.durationMs} ms) on the registry:\n` +
        `  ${result.sent} scrapes ${JSON.stringify(result.byStatus)} in ${result.elapsedMs.toFixed(0)} ms ` +
        `(${((result.sent * 1_000) / result.elapsedMs).toFixed(0)}/s)\n` +
        `  service CPU: ${cpuMs.toFixed(0)} ms in all, ${cpuPerScrapeMs.toFixed(3)} ms per scrape, ` +
        `${((100 * cpuMs) / result.elapsedMs).toFixed(0)} % of one core\n` +
        `  during: Lookup ${during.callMs.toFixed(1)} ms, /healthz ${during.healthzMs.toFixed(1)} ms; ` +
        `after: Lookup ${after.callMs.toFixed(1)} ms`,
    );

    expect(result.byStatus["200"]).toBe(result.sent);
    // A render of every series takes milliseconds; serving the cached text a fraction of one.
    expect(cpuPerScrapeMs).toBeLessThan(0.5);
    expect(during.callMs).toBeLessThan(2_000);
    expect(after.callMs).toBeLessThan(2_000);
  });
});
