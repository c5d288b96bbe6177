import { get } from "node:http";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { ConversationType, SequenceService } from "@im-core/proto";
import { createLogger, ServiceMetrics } from "@im-core/service-kit";
import { type MariaDbServer, type RedisServer, startMariaDb, startRedis } from "@im-core/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openSequenceBackends, type SequenceBackends } from "./backends.js";
import { createSequenceServer } from "./server.js";

let redis: RedisServer;
let mariadb: MariaDbServer;
let backends: SequenceBackends;
let server: ReturnType<typeof createSequenceServer>;
let baseUrl: string;

beforeAll(async () => {
  [redis, mariadb] = await Promise.all([startRedis(), startMariaDb()]);
  const logger = createLogger("sequence-test", "silent");
  const metrics = new ServiceMetrics(SequenceService.typeName);
  backends = await openSequenceBackends(
    { redis: { url: redis.url }, mysqlUrl: await mariadb.createDatabase(), step: 100 },
    logger,
    { metrics },
  );
  server = createSequenceServer({ logger, metrics, ...backends });
  const address = await server.listen(0, "127.0.0.1");
  baseUrl = `http://127.0.0.1:${address.port}`;
});
afterAll(async () => {
  await server?.close();
  await backends?.close();
  await Promise.all([redis?.dispose(), mariadb?.dispose()]);
});

const client = () => createClient(SequenceService, createConnectTransport({ baseUrl, httpVersion: "2" }));
const group = (value: string) => ({ kind: { case: "groupId" as const, value } });
const chat = (userA: string, userB: string) => ({
  kind: { case: "privateChat" as const, value: { userA, userB } },
});

/** GET without keep-alive, so the server's graceful close has no idle connection to wait for. */
function scrape(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    get(url, { agent: false }, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (body += chunk));
      response.on("end", () => resolve(body));
    }).on("error", reject);
  });
}

async function codeOf(call: Promise<unknown>): Promise<[Code, string]> {
  const error = ConnectError.from(
    await call.then(
      () => new Error("call succeeded"),
      (e: unknown) => e,
    ),
  );
  return [error.code, error.rawMessage];
}

describe("SequenceService over Connect and gRPC (16.1, 16.2, 16.6, 16.7)", () => {
  it("16.1: Next starts at 1 and allocates count consecutive numbers; Current reads without allocating", async () => {
    const c = client();
    expect(await c.next({ conversation: group("rpc-g") })).toMatchObject({ first: 1n, last: 1n });
    expect(await c.next({ conversation: group("rpc-g"), count: 10 })).toMatchObject({ first: 2n, last: 11n });
    expect((await c.current({ conversation: group("rpc-g") })).sequence).toBe(11n);
    expect((await c.current({ conversation: group("rpc-g") })).sequence).toBe(11n);
    expect((await c.current({ conversation: group("rpc-unused") })).sequence).toBe(0n);
  });

  it("16.2: a private chat is one conversation either way round, over gRPC too", async () => {
    const grpc = createClient(SequenceService, createGrpcTransport({ baseUrl }));
    expect((await grpc.next({ conversation: chat("ann", "bo") })).first).toBe(1n);
    expect((await client().next({ conversation: chat("bo", "ann") })).first).toBe(2n);
  });

  it("BatchNext answers in request order; a repeated conversation gets consecutive ranges", async () => {
    const { ranges } = await client().batchNext({
      items: [
        { conversation: group("b1"), count: 3 },
        { conversation: chat("p", "q") },
        { conversation: group("b1"), count: 2 },
      ],
    });
    expect(ranges.map((r) => [r.first, r.last])).toEqual([
      [1n, 3n],
      [1n, 1n],
      [4n, 5n],
    ]);
  });

  it("16.6: after Redis loses everything, numbers resume above what was handed out", async () => {
    const c = client();
    const before = await c.next({ conversation: group("rpc-wipe"), count: 5 });
    await redis.flushAll();
    const after = await c.next({ conversation: group("rpc-wipe") });
    expect(after.first).toBeGreaterThan(before.last);
    // Unknown after the loss: Current answers the reserved ceiling, which the next number exceeds.
    await redis.flushAll();
    const current = (await c.current({ conversation: group("rpc-wipe") })).sequence;
    expect(current).toBeGreaterThanOrEqual(after.last);
    expect((await c.next({ conversation: group("rpc-wipe") })).first).toBeGreaterThan(current);
  });

  it("16.7: ListSnapshots pages through the backup rows, filtered by type", async () => {
    const c = client();
    await Promise.all(Array.from({ length: 5 }, (_, i) => c.next({ conversation: group(`snap-${i}`) })));
    const seen: string[] = [];
    let pageToken = "";
    do {
      const page = await c.listSnapshots({ type: ConversationType.GROUP, pageSize: 2, pageToken });
      expect(page.snapshots.length).toBeLessThanOrEqual(2);
      for (const s of page.snapshots) {
        expect(s.type).toBe(ConversationType.GROUP);
        expect(s.reservedCeiling).toBeGreaterThan(0n);
        expect(s.updatedAt).toBeDefined();
        if (s.conversation?.kind.case === "groupId") seen.push(s.conversation.kind.value);
      }
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    expect(seen).toEqual(expect.arrayContaining(["snap-0", "snap-1", "snap-2", "snap-3", "snap-4"]));
    expect(new Set(seen).size).toBe(seen.length);
    const privates = await c.listSnapshots({ type: ConversationType.PRIVATE, pageSize: 1000 });
    expect(privates.snapshots.map((s) => s.conversation?.kind)).toContainEqual({
      case: "privateChat",
      value: expect.objectContaining({ userA: "ann", userB: "bo" }),
    });
  });

  it("rejects bad input with INVALID_ARGUMENT naming the field", async () => {
    const c = client();
    const bad = Code.InvalidArgument;
    expect(await codeOf(c.next({}))).toEqual([bad, "conversation: must be set (private_chat or group_id)"]);
    expect(await codeOf(c.next({ conversation: chat("", "x") }))).toEqual([
      bad,
      "conversation.private_chat.user_a: must not be empty",
    ]);
    expect(await codeOf(c.next({ conversation: chat("x", "x") }))).toEqual([
      bad,
      "conversation.private_chat: user_a and user_b must differ",
    ]);
    expect(await codeOf(c.next({ conversation: group("x".repeat(257)) }))).toEqual([
      bad,
      "conversation.group_id: must be at most 256 bytes of UTF-8 (got 257)",
    ]);
    expect(await codeOf(c.next({ conversation: group("g"), count: 10_001 }))).toEqual([
      bad,
      "count: must be at most 10000",
    ]);
    expect(await codeOf(c.current({ conversation: group("a\nb") }))).toEqual([
      bad,
      "conversation.group_id: must not contain control characters",
    ]);
    expect(await codeOf(c.batchNext({ items: [] }))).toEqual([bad, "items: must not be empty"]);
    const many = Array.from({ length: 1_001 }, () => ({ conversation: group("g") }));
    expect(await codeOf(c.batchNext({ items: many }))).toEqual([
      bad,
      "items: must have at most 1000 entries",
    ]);
    const items = [
      ...Array.from({ length: 3 }, () => ({ conversation: group("g") })),
      { conversation: group("g"), count: 20_000 },
    ];
    expect(await codeOf(c.batchNext({ items }))).toEqual([bad, "items[3].count: must be at most 10000"]);
    expect(await codeOf(c.listSnapshots({ pageSize: 1_001 }))).toEqual([
      bad,
      "page_size: must be between 0 and 1000",
    ]);
    expect(await codeOf(c.listSnapshots({ pageSize: -1 }))).toEqual([
      bad,
      "page_size: must be between 0 and 1000",
    ]);
    expect(await codeOf(c.listSnapshots({ pageToken: "nope" }))).toEqual([
      bad,
      "page_token: is not a token from a previous response",
    ]);
    expect(await codeOf(c.listSnapshots({ type: 7 as ConversationType }))).toEqual([
      bad,
      "type: unknown conversation type 7",
    ]);
  });

  it("Redis down: UNAVAILABLE fast, and recovery by itself", async () => {
    const c = client();
    const before = await c.next({ conversation: group("rpc-down") });
    await redis.stop();
    try {
      const started = performance.now();
      const [code] = await codeOf(c.next({ conversation: group("rpc-down") }));
      expect(code).toBe(Code.Unavailable);
      expect(performance.now() - started).toBeLessThan(1_500);
    } finally {
      await redis.restart();
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
  it("/readyz names Redis while it hangs (paused) and turns ready again when it answers", async () => {
    const readiness = () =>
      scrape(`${baseUrl}/readyz`).then((body) => JSON.parse(body) as { ready: boolean });
    expect(await readiness()).toEqual({ ready: true, checks: { redis: "ok", mysql: "ok" } });
    redis.pause();
    try {
      expect(await readiness()).toEqual({
        ready: false,
        checks: { redis: "unavailable: no answer within 1000 ms", mysql: "ok" },
      });
    } finally {
      redis.resume();
    }
    await expect.poll(readiness, { timeout: 5_000 }).toMatchObject({ ready: true });
  });

  it("GET /metrics counts reservations, MySQL writes, coalesced calls, server changes and the epoch", async () => {
    const c = client();
    const conversation = group("rpc-metrics");
    // 300 numbers at step 100: a seed, then extensions or reservations ahead.
    for (let i = 0; i < 3; i += 1) await c.next({ conversation, count: 100 });
    await Promise.all(Array.from({ length: 32 }, () => c.next({ conversation })));
    // A restarted Redis (no persistence) is a new server: the epoch moves on.
    await redis.restart();
    await expect
      .poll(
        () =>
          c.next({ conversation }).then(
            () => true,
            () => false,
          ),
        { timeout: 5_000 },
      )
      .toBe(true);
    await backends.allocator.settle();

    const text = await scrape(`${baseUrl}/metrics`);
    const value = (series: string) => {
      const line = text.split("\n").find((l) => l.startsWith(`${series} `) || l.startsWith(`${series}{`));
      return Number(line?.split(" ").at(-1));
    };
    expect(
      value('sequence_reservations_total{reason="seed",service="im.sequence.v1.SequenceService"}'),
    ).toBeGreaterThanOrEqual(2);
    expect(
      value('sequence_reservations_total{reason="extend",service="im.sequence.v1.SequenceService"}'),
    ).toBeGreaterThanOrEqual(0);
    expect(text).toContain('sequence_reservations_total{reason="ahead"');
    expect(value("sequence_mysql_writes_total")).toBeGreaterThanOrEqual(3);
    expect(value("sequence_coalesced_calls_total")).toBeGreaterThan(0);
    expect(value("sequence_redis_server_changes_total")).toBeGreaterThanOrEqual(1);
    expect(value("sequence_epoch")).toBeGreaterThanOrEqual(2);
  });
});
