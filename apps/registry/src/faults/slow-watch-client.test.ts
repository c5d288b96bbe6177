import http2 from "node:http2";
import { fromBinary } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { RegistryService, WatchResponseSchema } from "@im-core/proto";
import { encodeValue, KeyLayout } from "@im-core/stores/etcd";
import { etcdJson, eventually } from "@im-core/testkit";
import { describe, expect, it } from "vitest";
import { registryProcess } from "../testing/registry.js";

const BACKLOG = 1_000;
const BATCHES = 50;
const PER_BATCH = 100; // one etcd txn: one revision, 100 events
const TOTAL = BATCHES * PER_BATCH;

const running = registryProcess({ REGISTRY_WATCH_BACKLOG: String(BACKLOG) });

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`${running.service.url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  if (!line) throw new Error(`metric ${name} missing`);
  return Number(line.slice(line.lastIndexOf(" ") + 1));
}

/** gRPC frames in `data` (flag byte, 4-byte length, message), decoded as WatchResponses. */
function frames(data: Buffer) {
  const responses = [];
  for (let at = 0; at + 5 <= data.length; ) {
    const length = data.readUInt32BE(at + 1);
    responses.push(fromBinary(WatchResponseSchema, data.subarray(at + 5, at + 5 + length)));
    at += 5 + length;
  }
  return responses;
}

const b64 = (s: string | Buffer) => Buffer.from(s).toString("base64");

describe("a Watch client that stops reading", () => {
  it("is ended with RESOURCE_EXHAUSTED while others receive every event and server memory stays bounded", async () => {
    const client = createClient(RegistryService, createGrpcTransport({ baseUrl: running.service.url }));
    const { leaseId } = await client.grantLease({ gatewayNode: "gw", ttlSeconds: 120 });

    // The slow one: its own HTTP/2 connection, a raw gRPC Watch request whose response is never read.
    // Node stops acknowledging a paused stream's data, so HTTP/2 flow control stalls the server's writes.
    const session = http2.connect(running.service.url);
    const slow = session.request({
      ":method": "POST",
      ":path": "/im.registry.v1.RegistryService/Watch",
      "content-type": "application/grpc",
      te: "trailers",
    });
    slow.end(Buffer.from([0, 0, 0, 0, 0])); // an empty WatchRequest: every user, from now
    slow.pause();
    const slowHeaders = new Promise((resolve) => slow.once("response", resolve));

    // The fast one: the generated client on its own connection, reading everything.
    const fastClient = createClient(RegistryService, createGrpcTransport({ baseUrl: running.service.url }));
    const abort = new AbortController();
    const fast = { events: 0, revisions: [] as bigint[] };
    let fastStarted!: () => void;
    const started = new Promise<void>((resolve) => (fastStarted = resolve));
    const fastDone = (async () => {
      for await (const response of fastClient.watch({}, { signal: abort.signal })) {
        fastStarted();
        fast.events += response.events.length;
        for (const e of response.events) fast.revisions.push(e.revision);
        if (fast.events >= TOTAL) return;
      }
    })().catch((error: unknown) => {
      if (!abort.signal.aborted) throw error;
    });
    await Promise.all([started, slowHeaders]);
    await eventually(async () => expect(await metric("registry_watch_subscribers")).toBe(2), 15_000);
    const heapBefore = await metric("nodejs_heap_size_used_bytes");

    // Thousands of registrations on the shared lease, written to etcd 100 per txn (the events the
    // service's watch sees are the same as from Register calls, without 5,000 RPCs of test time).
    const layout = new KeyLayout();
    const written = Date.now();
    let maxQueued = 0;
    for (let b = 0; b < BATCHES; b++) {
      await etcdJson(running.etcd.endpoints[0]!, "/v3/kv/txn", {
        success: Array.from({ length: PER_BATCH }, (_, i) => ({
          request_put: {
            key: b64(layout.deviceKey(`s-${b}-${i}`, "d")),
            value: b64(encodeValue({ gatewayNode: "gw", connectedAtMs: Date.now() })),
            lease: String(leaseId),
          },
        })),
      });
      if (b % 10 === 9) maxQueued = Math.max(maxQueued, await metric("registry_watch_queued_events"));
      // The reading client shares this process's CPU with the writes: let it stay well inside its backlog,
      // so that only the client that does not read at all can fall behind, however loaded the machine.
      const sent = (b + 1) * PER_BATCH;
      await eventually(() => expect(fast.events).toBeGreaterThanOrEqual(sent - BACKLOG / 2), 10_000);
    }

    // (a) The reading stream gets every event, in order, promptly.
    await Promise.race([
      fastDone,
      new Promise((_, reject) =>
        setTimeout(() => reject(new Error(`fast stream got ${fast.events}`)), 15_000),
      ),
    ]);
    const readerDelay = Date.now() - written;
    expect(fast.events).toBe(TOTAL);
    expect(fast.revisions).toEqual([...fast.revisions].sort((x, y) => Number(x - y)));
    abort.abort();

    // (b) The server cut the slow stream off for lag and let go of its queue at once.
    await eventually(async () => expect(await metric("registry_watch_lagged_total")).toBe(1), 15_000);
    await eventually(async () => expect(await metric("registry_watch_subscribers")).toBe(0), 15_000);
    expect(await metric("registry_watch_queued_events")).toBe(0);
    // (c) Memory stayed bounded: no stream ever queued more than its backlog, and the heap grew only by
    // the mirror's own copy of 5,000 entries (a few MB), not by what the slow stream missed.
    expect(maxQueued).toBeLessThanOrEqual(2 * BACKLOG);
    const heapAfter = await metric("nodejs_heap_size_used_bytes");
    console.log(
      `slow Watch reader: ${TOTAL} events, reading stream had all of them ${readerDelay} ms after the first write; ` +
        `most queued ${maxQueued} events (limit ${BACKLOG} per stream); heap ${(heapBefore / 2 ** 20).toFixed(1)} → ` +
        `${(heapAfter / 2 ** 20).toFixed(1)} MiB`,
    );
    expect(heapAfter - heapBefore).toBeLessThan(64 * 2 ** 20);

    // When the slow client finally reads: the events that were in flight, then RESOURCE_EXHAUSTED.
    const chunks: Buffer[] = [];
    const trailers = new Promise<http2.IncomingHttpHeaders>((resolve) => slow.once("trailers", resolve));
    slow.on("data", (chunk: Buffer) => chunks.push(chunk));
    slow.resume();
    const ending = await Promise.race([
      trailers,
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error("slow stream never ended")), 10_000),
      ),
    ]);
    expect(ending["grpc-status"]).toBe("8"); // RESOURCE_EXHAUSTED
    expect(decodeURIComponent(String(ending["grpc-message"]))).toMatch(/fell too far behind/);
    const delivered = frames(Buffer.concat(chunks)).flatMap((r) => r.events);
    expect(delivered.length).toBeGreaterThan(0);
    expect(delivered.length).toBeLessThan(TOTAL);
    expect(delivered.map((e) => e.revision)).toEqual(fast.revisions.slice(0, delivered.length));
    session.close();
  });
});
