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
  it("answers every call it executed, fails none within the delay, and after it only refuses calls before any work", async () => {
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
      let sigtermAt = Number.POSITIVE_INFINITY;
      const failures: { name: string; at: number; message: string }[] = [];
      const answered = new Map<string, number>();
      const worker = async ([name, client]: [string, Client<typeof SequenceService>]) => {
        while (sending) {
          try {
            const { last } = await client.next({ conversation: group(`drain-${name}`) });
            answered.set(name, Number(last));
          } catch (error) {
            const message = ConnectError.from(error).message;
            failures.push({ name, at: performance.now() - sigtermAt, message });
            await sleep(20);
          }
        }
      };
      const load = Promise.all(clients.map(worker));
      await sleep(500);
      sigtermAt = performance.now();
      // SIGTERM; the workers keep calling through the delay and the drain, until the process is gone.
      await draining.stop();
      sending = false;
      await load;
      expect(draining.exitCode).toBe(0);
      // Load balancers stop sending within the delay: nothing may fail before it ends. After it, calls are
      // only refused before any work (no connection, or a stream the GOAWAY did not count).
      const refusedUnprocessed = /ECONNREFUSED|REFUSED_STREAM|GOAWAY/;
      const early = failures.filter((failure) => failure.at < DELAY_MS);
      const unsafe = failures.filter((failure) => !refusedUnprocessed.test(failure.message));

      const reader = createClient(SequenceService, createGrpcTransport({ baseUrl: other.url }));
      let executed = 0;
      let unanswered = 0;
      for (const [name] of clients) {
        const { sequence } = await reader.current({ conversation: group(`drain-${name}`) });
        executed += Number(sequence);
        unanswered += Number(sequence) - (answered.get(name) ?? 0);
      }
      console.log(
        `SIGTERM under load (${clients.length} workers, HTTP/1.1 and HTTP/2, calling until the process exits): ` +
          `${executed} calls executed, ${unanswered} executed but unanswered; ${early.length} failed within the ` +
          `delay, ${failures.length - early.length} refused after it (${unsafe.length} not as "refused unprocessed")` +
          (unsafe.length
            ? `: ${unsafe
                .slice(0, 3)
                .map((f) => f.message)
                .join("; ")}`
            : ""),
      );
      expect(executed).toBeGreaterThan(0);
      expect(unanswered).toBe(0);
      expect(early).toEqual([]);
      expect(unsafe).toEqual([]);
    } finally {
      await Promise.all([draining.dispose(), other.dispose()]);
    }
  });
});
