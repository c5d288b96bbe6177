import { type Client, type Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { SequenceService } from "@im-core/proto";
import { createLogger, ServiceMetrics, useNodeTextEncoding } from "@im-core/service-kit";
import type { RedisTarget } from "@im-core/stores/redis";
import { forFile } from "@im-core/testkit/vitest";
import { openSequenceBackends, type SequenceBackends } from "../backends.js";
import { createSequenceServer } from "../server.js";
import { privateBackends } from "./backends.js";

export interface TestSequence {
  readonly url: string;
  readonly backends: SequenceBackends;
  /** Connect binary over HTTP/2, as a gateway calls it. */
  readonly client: Client<typeof SequenceService>;
  close(): Promise<void>;
}

/** One sequence instance on private backends for a test file (see privateBackends). */
export function useTestSequence() {
  const backends = privateBackends();
  const sequence = forFile(
    async () =>
      startTestSequence({
        redis: { url: backends.redis.url },
        mysqlUrl: await backends.mariadb.createDatabase(),
      }),
    (started) => started.close(),
  );
  return {
    get redis() {
      return backends.redis;
    },
    get mariadb() {
      return backends.mariadb;
    },
    get sequence(): TestSequence {
      return sequence();
    },
  };
}

/**
 * A sequence instance on a free port, wired as production wires it (openSequenceBackends, the server
 * with its defaults), with open access.
 */
export async function startTestSequence(options: {
  redis: RedisTarget;
  mysqlUrl: string;
  step?: number;
}): Promise<TestSequence> {
  useNodeTextEncoding(); // as main.ts does
  const logger = createLogger("sequence-test", "silent");
  const metrics = new ServiceMetrics(SequenceService.typeName);
  const backends = await openSequenceBackends(
    { redis: options.redis, mysqlUrl: options.mysqlUrl, step: options.step ?? 100 },
    logger,
    { metrics },
  );
  const server = createSequenceServer({ logger, metrics, backends });
  const address = await server.listen(0, "127.0.0.1");
  const url = `http://127.0.0.1:${address.port}`;
  return {
    url,
    backends,
    client: createClient(SequenceService, createConnectTransport({ baseUrl: url, httpVersion: "2" })),
    async close() {
      await server.close();
      await backends.close();
    },
  };
}

/** The code and message a call failed with. */
export async function codeOf(call: Promise<unknown>): Promise<[Code, string]> {
  const error = ConnectError.from(
    await call.then(
      () => new Error("call succeeded"),
      (e: unknown) => e,
    ),
  );
  return [error.code, error.rawMessage];
}
