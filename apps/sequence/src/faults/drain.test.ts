import { type Client, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { sleep } from "@im-core/common";
import { SequenceService } from "@im-core/proto";
import { sequenceEntry } from "@im-core/sequence/entry";
import { startService } from "@im-core/testkit";
import { describe, expect, it } from "vitest";
import { privateBackends } from "../testing/backends.js";

/**
 * An instance stopped with SIGTERM while gateways call it over connections they already hold (HTTP/1.1
 * keep-alive and HTTP/2), as a rolling update does. Each call takes exactly one number of its own
 * conversation, so what the service executed can be counted afterwards: the highest number handed out.
 * A call executed but never answered shows as a number above the last one its caller was given.
 */

const servers = privateBackends();
const WORKERS_PER_PROTOCOL = 6;
const DELAY_MS = 1_000;

const group = (value: string) => ({ kind: { case: "groupId" as const, value } });

describe("SIGTERM under load", () => {
  it("answers every call it executed, and fails none sent before load balancers could stop sending", async () => {
    const env = {
      REDIS_URL: servers.redis.url,
      MYSQL_URL: await servers.mariadb.createDatabase(),
      AUTH_DISABLED: "true",
      SEQUENCE_STEP: "1000000", // no reservation mid-run: numbers are exactly the calls executed
      SHUTDOWN_GRACE_MS: "5000",
      SHUTDOWN_DELAY_MS: String(DELAY_MS),
    };
    const [draining, other] = await Promise.all([
      startService({ entry: sequenceEntry, env }),
      startService({ entry: sequenceEntry, env }),
    ]);
    try {
      const clients: [string, Client<typeof SequenceService>][] = [];
      for (let w = 0; w < WORKERS_PER_PROTOCOL; w += 1) {
        const baseUrl = draining.url;
        clients.push([
          `h1-${w}`,
          createClient(SequenceService, createConnectTransport({ baseUrl, httpVersion: "1.1" })),
        ]);
        clients.push([`h2-${w}`, createClient(SequenceService, createGrpcTransport({ baseUrl }))]);
      }
      let sending = true;
      const failures: string[] = [];
      const answered = new Map<string, number>();
      const worker = async ([name, client]: [string, Client<typeof SequenceService>]) => {
        while (sending) {
          try {
            const { last } = await client.next({ conversation: group(`drain-${name}`) });
            answered.set(name, Number(last));
          } catch (error) {
            failures.push(`${name}: ${ConnectError.from(error).message}`);
            await sleep(20);
          }
        }
      };
      const load = Promise.all(clients.map(worker));
      await sleep(500);
      const stopped = draining.stop(); // SIGTERM, then waits for the exit
      // Load balancers see "draining" in readiness and stop sending within the delay.
      await sleep(DELAY_MS - 300);
      sending = false;
      await load;
      await stopped;
      expect(draining.exitCode).toBe(0);

      const reader = createClient(SequenceService, createGrpcTransport({ baseUrl: other.url }));
      let executed = 0;
      let unanswered = 0;
      for (const [name] of clients) {
        const { sequence } = await reader.current({ conversation: group(`drain-${name}`) });
        executed += Number(sequence);
        unanswered += Number(sequence) - (answered.get(name) ?? 0);
      }
      console.log(
        `SIGTERM under load (${clients.length} workers, HTTP/1.1 and HTTP/2): ${executed} calls executed, ` +
          `${unanswered} executed but unanswered, ${failures.length} failed${failures.length ? `: ${failures.slice(0, 3).join("; ")}` : ""}`,
      );
      expect(executed).toBeGreaterThan(0);
      expect(unanswered).toBe(0);
      expect(failures).toEqual([]);
    } finally {
      await Promise.all([draining.dispose(), other.dispose()]);
    }
  });
});
