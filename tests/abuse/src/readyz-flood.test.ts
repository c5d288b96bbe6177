import { sleep } from "@im-core/common";
import { httpGet } from "@im-core/testkit";
import { describe, expect, it } from "vitest";
import { flood } from "./testing/flood.js";
import { abuseStack, responsiveness } from "./testing/stack.js";

const stack = abuseStack();
const conversation = { kind: { case: "groupId" as const, value: "readyz-flood" } };
const FLOOD = { concurrency: 100, durationMs: 3_000, maxRequests: 30_000 }; // per service

/** Statements MariaDB has run so far (`Questions`); each `query()` through the CLI adds a few itself. */
async function questions(): Promise<number> {
  const output = await stack.servers.mariadb.query("SHOW GLOBAL STATUS LIKE 'Questions'");
  return Number(/Questions\s+(\d+)/.exec(output)?.[1]);
}

describe("a flood of unauthenticated GET /readyz", () => {
  it("leaves both services ready and responsive, and never reaches MySQL per request", async () => {
    const { registry, sequence } = stack.servers;
    const clients = stack.clients();
    const next = (signal: AbortSignal) => clients.sequence.next({ conversation }, { signal });
    const lookup = (signal: AbortSignal) => clients.registry.lookup({ userId: "readyz-flood" }, { signal });
    // Seed the conversation first: the Next calls measured below then never need MySQL themselves.
    await next(AbortSignal.timeout(10_000));
    await lookup(AbortSignal.timeout(10_000));

    const questionsBefore = await questions();
    const floods = Promise.all([
      flood(FLOOD, () => httpGet(`${registry.url}/readyz`).then(({ status }) => status)),
      flood(FLOOD, () => httpGet(`${sequence.url}/readyz`).then(({ status }) => status)),
    ]);
    await sleep(1_000);
    const during = {
      sequence: await responsiveness(sequence, next),
      registry: await responsiveness(registry, lookup),
    };
    const [registryFlood, sequenceFlood] = await floods;
    const after = {
      sequence: await responsiveness(sequence, next),
      registry: await responsiveness(registry, lookup),
    };
    const mysqlStatements = (await questions()) - questionsBefore;

    console.log(
      `/readyz flood (${FLOOD.concurrency} concurrent per service, fresh connections, ${FLOOD.durationMs} ms):\n` +
        `  registry: ${registryFlood.sent} requests ${JSON.stringify(registryFlood.byStatus)}\n` +
        `  sequence: ${sequenceFlood.sent} requests ${JSON.stringify(sequenceFlood.byStatus)}\n` +
        `  MySQL statements during the flood (Questions delta, incl. the CLI's own): ${mysqlStatements}\n` +
        `  during: sequence Next ${during.sequence.callMs.toFixed(1)} ms, /healthz ${during.sequence.healthzMs.toFixed(1)} ms; ` +
        `registry Lookup ${during.registry.callMs.toFixed(1)} ms, /healthz ${during.registry.healthzMs.toFixed(1)} ms\n` +
        `  after: sequence Next ${after.sequence.callMs.toFixed(1)} ms; registry Lookup ${after.registry.callMs.toFixed(1)} ms`,
    );

    for (const result of [registryFlood, sequenceFlood]) {
      expect(result.byStatus["503"] ?? 0, "answers that said not ready").toBe(0);
      expect(result.byStatus["200"] ?? 0).toBeGreaterThan(0);
    }
    for (const measured of [during, after]) {
      expect(measured.sequence.callMs).toBeLessThan(2_000);
      expect(measured.registry.callMs).toBeLessThan(2_000);
    }
    // About one readiness probe per second, not one per request (thousands were sent).
    expect(mysqlStatements).toBeLessThan(40);
    for (const service of [registry, sequence]) {
      expect((await httpGet(`${service.url}/readyz`)).status).toBe(200);
    }
  });
});
