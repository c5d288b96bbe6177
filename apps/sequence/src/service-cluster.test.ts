import { get } from "node:http";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { SequenceService } from "@im-core/proto";
import {
  type MariaDbServer,
  type RedisCluster,
  type ServiceProcess,
  startMariaDb,
  startRedisCluster,
  startService,
} from "@im-core/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// The built app as its own process (pnpm --dir apps/sequence build), configured the way an operator
// would: REDIS_CLUSTER_NODES naming the cluster's nodes.
let cluster: RedisCluster;
let mariadb: MariaDbServer;
let service: ServiceProcess;

beforeAll(async () => {
  [cluster, mariadb] = await Promise.all([startRedisCluster({ masters: 3 }), startMariaDb()]);
  service = await startService({
    app: "sequence",
    env: {
      // Two seeds as host:port, one as a URL: any reachable seed finds the whole cluster.
      REDIS_CLUSTER_NODES: cluster.startupNodes
        .map(({ host, port }, i) => (i === 0 ? `redis://${host}:${port}` : `${host}:${port}`))
        .join(","),
      MYSQL_URL: await mariadb.createDatabase(),
      SEQUENCE_STEP: "100",
      AUTH_DISABLED: "true",
      SHUTDOWN_GRACE_MS: "500",
    },
  });
});
afterAll(async () => {
  await service?.dispose();
  await Promise.all([cluster?.dispose(), mariadb?.dispose()]);
});

function httpGet(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get(url, { agent: false }, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (body += chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
    }).on("error", reject);
  });
}

const group = (value: string) => ({ kind: { case: "groupId" as const, value } });

describe("the service on a Redis Cluster (REDIS_CLUSTER_NODES)", () => {
  it("is ready, hands out increasing numbers on every master, and resumes above them after FLUSHALL", async () => {
    expect((await httpGet(`${service.url}/readyz`)).status).toBe(200);
    const client = createClient(SequenceService, createGrpcTransport({ baseUrl: service.url }));
    // Twelve conversations spread over the three masters' slots.
    const conversations = Array.from({ length: 12 }, (_, i) => group(`cluster-${i}`));
    const before = await Promise.all(
      conversations.map((conversation) => client.next({ conversation, count: 150 })),
    );
    for (const range of before) expect([range.first, range.last]).toEqual([1n, 150n]);
    const { ranges } = await client.batchNext({
      items: conversations.flatMap((conversation) => [{ conversation }, { conversation, count: 2 }]),
    });
    for (let i = 0; i < conversations.length; i += 1) {
      expect([ranges[2 * i]!.first, ranges[2 * i + 1]!.first, ranges[2 * i + 1]!.last]).toEqual([
        151n,
        152n,
        153n,
      ]);
    }

    await Promise.all(cluster.nodes.map((node) => node.flushAll()));
    const after = await Promise.all(conversations.map((conversation) => client.next({ conversation })));
    for (const range of after) expect(range.first).toBeGreaterThan(153n);

    const metrics = (await httpGet(`${service.url}/metrics`)).body;
    expect(metrics).toMatch(/^sequence_reservations_total\{reason="seed",[^}]*\} (\d+)$/m);
    expect(Number(/^sequence_reservations_total\{reason="seed",[^}]*\} (\d+)$/m.exec(metrics)?.[1])).toBe(24);
    expect(metrics).toMatch(/^sequence_epoch\{[^}]*\} 1$/m);
  });
});
