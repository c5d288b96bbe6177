import { Code, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { ConversationType, SequenceService } from "@im-core/proto";
import { httpGet } from "@im-core/testkit";
import { describe, expect, it } from "vitest";
import { codeOf, useTestSequence } from "./testing/sequence.js";

const backend = useTestSequence();
const url = () => backend.sequence.url;

const client = () =>
  createClient(SequenceService, createConnectTransport({ baseUrl: url(), httpVersion: "2" }));
const group = (value: string) => ({ kind: { case: "groupId" as const, value } });
const chat = (userA: string, userB: string) => ({
  kind: { case: "privateChat" as const, value: { userA, userB } },
});

describe("SequenceService over Connect and gRPC", () => {
  it("Next starts at 1 and allocates count consecutive numbers; Current reads without allocating", async () => {
    const c = client();
    expect(await c.next({ conversation: group("rpc-g") })).toMatchObject({ first: 1n, last: 1n });
    expect(await c.next({ conversation: group("rpc-g"), count: 10 })).toMatchObject({ first: 2n, last: 11n });
    expect((await c.current({ conversation: group("rpc-g") })).sequence).toBe(11n);
    expect((await c.current({ conversation: group("rpc-g") })).sequence).toBe(11n);
    expect((await c.current({ conversation: group("rpc-unused") })).sequence).toBe(0n);
  });

  it("a private chat is one conversation either way round, over gRPC too", async () => {
    const grpc = createClient(SequenceService, createGrpcTransport({ baseUrl: url() }));
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

  it("after Redis loses everything, numbers resume above what was handed out", async () => {
    const c = client();
    const before = await c.next({ conversation: group("rpc-wipe"), count: 5 });
    await backend.redis.flushAll();
    const after = await c.next({ conversation: group("rpc-wipe") });
    expect(after.first).toBeGreaterThan(before.last);
    // Unknown after the loss: Current answers the reserved ceiling, which the next number exceeds.
    await backend.redis.flushAll();
    const current = (await c.current({ conversation: group("rpc-wipe") })).sequence;
    expect(current).toBeGreaterThanOrEqual(after.last);
    expect((await c.next({ conversation: group("rpc-wipe") })).first).toBeGreaterThan(current);
  });

  it("ListSnapshots pages through the backup rows, filtered by type", async () => {
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
    // 1,000 items of 10,000 numbers each would be 10 million numbers from one call.
    const greedy = Array.from({ length: 11 }, (_, i) => ({
      conversation: group(`greedy-${i}`),
      count: 10_000,
    }));
    expect(await codeOf(c.batchNext({ items: greedy }))).toEqual([
      bad,
      "items: must ask for at most 100000 numbers in all, asked for 110000",
    ]);
    expect((await c.current({ conversation: group("greedy-0") })).sequence).toBe(0n);
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
    // Over JSON an unknown name is refused too (it was dropped, which read as "no filter"), and so is a
    // number; a client library cannot send either, so raw bodies.
    for (const [body, message] of [
      ['{"type":"BOGUS"}', 'cannot decode enum im.sequence.v1.ConversationType from JSON: "BOGUS"'],
      ['{"type":99}', "type: unknown conversation type 99"],
    ] as const) {
      const response = await fetch(`${url()}/im.sequence.v1.SequenceService/ListSnapshots`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
      });
      expect([response.status, await response.json()]).toEqual([400, { code: "invalid_argument", message }]);
    }
  });

  it("GET /metrics counts reservations, MySQL writes, coalesced calls, server changes and the epoch", async () => {
    const c = client();
    const conversation = group("rpc-metrics");
    // 300 numbers at step 100: a seed, then extensions or reservations ahead.
    for (let i = 0; i < 3; i += 1) await c.next({ conversation, count: 100 });
    await Promise.all(Array.from({ length: 32 }, () => c.next({ conversation })));
    // A restarted Redis (no persistence) is a new server: the epoch moves on.
    await backend.redis.restart();
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
    await backend.sequence.backends.allocator.settle();

    const text = (await httpGet(`${url()}/metrics`)).body;
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
