import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { BatchNextRequestSchema, NextRequestSchema, SequenceService } from "@im-core/proto";
import type { MariaDbServer, ServiceProcess } from "@im-core/testkit";
import { encode } from "./bodies.js";
import type { Bench } from "./context.js";
import { client, e2eRows } from "./e2e.js";
import { closedLoop } from "./loadgen.js";
import { scrape, sum } from "./metrics.js";
import { type Around, notMeasured, type Preflight, preflight } from "./rows.js";
import { storageFootprint } from "./sequence-footprint.js";
import type { Row } from "./table.js";

const run = promisify(execFile);
const SERVICE = "/im.sequence.v1.SequenceService";
const group = (id: string) => ({ kind: { case: "groupId" as const, value: id } });

/**
 * MySQL writes between before() and after(), per million numbers handed out: INSERT/UPDATE statements
 * and row writes (Handler_write + Handler_update) counted by MariaDB itself, and the service's own
 * `sequence_mysql_writes_total` when it exposes it; plus the share of calls it coalesced.
 */
function mysqlWrites(
  db: MariaDbServer,
  numbersPerCall: number,
  database: string,
  service: ServiceProcess,
): Around {
  const read = async () => {
    const text = await db.query(
      "SHOW GLOBAL STATUS WHERE Variable_name IN ('Com_insert','Com_update','Com_replace','Com_insert_select','Handler_write','Handler_update')",
      database,
    );
    let statements = 0;
    let rows = 0;
    for (const line of text.split("\n")) {
      const [name, value] = line.split("\t");
      if (name?.startsWith("Com_")) statements += Number(value);
      else if (name?.startsWith("Handler_")) rows += Number(value);
    }
    const samples = await scrape(service.url);
    return {
      statements,
      rows,
      serviceWrites: sum(samples, "sequence_mysql_writes_total"),
      coalesced: sum(samples, "sequence_coalesced_calls_total"),
    };
  };
  return {
    before: read,
    async after(before: Awaited<ReturnType<typeof read>>, calls: number) {
      const after = await read();
      const numbers = calls * numbersPerCall;
      const perMillion = (d: number) => (numbers > 0 ? (d * 1e6) / numbers : Number.NaN);
      const notes: Record<string, string | number> = {
        "mysql stmts/1M": perMillion(after.statements - before.statements),
        "row writes/1M": perMillion(after.rows - before.rows),
      };
      if (!Number.isNaN(after.serviceWrites)) {
        notes["svc mysql writes/1M"] = perMillion(after.serviceWrites - (before.serviceWrites || 0));
      }
      if (!Number.isNaN(after.coalesced) && calls > 0) {
        notes.coalesced = `${((100 * (after.coalesced - (before.coalesced || 0))) / calls).toFixed(0)}%`;
      }
      return notes;
    },
  };
}

async function redisBenchmark(port: number, concurrency: number, requests: number) {
  const { stdout } = await run("redis-benchmark", [
    "-h",
    "127.0.0.1",
    "-p",
    String(port),
    "-c",
    String(concurrency),
    "-n",
    String(requests),
    "-t",
    "incr",
    "--csv",
  ]);
  // "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
  const line = stdout.split("\n").find((l) => l.startsWith('"INCR"'));
  if (!line) throw new Error(`unexpected redis-benchmark output: ${stdout}`);
  const cols = line.split(",").map((c) => Number(c.replaceAll('"', "")));
  return { rps: cols[1]!, p50: cols[4]!, p99: cols[6]! };
}

export async function sequenceSuite(
  bench: Bench,
  server: ServiceProcess,
  deps: { mariadb: MariaDbServer; database: string; redisPort: number },
  /** Filled as cases finish, so a failure later keeps what was measured. */
  rows: Row[] = [],
): Promise<Row[]> {
  const size = bench.size;
  const seq = client(SequenceService, server.url);
  const hot = encode(NextRequestSchema, { conversation: group("bench-hot"), count: 1 });
  const hundred = encode(NextRequestSchema, { conversation: group("bench-hot-100"), count: 100 });
  const batchItems = Array.from({ length: 100 }, (_, i) => ({
    conversation: group(`bench-batch-${i}`),
    count: 1,
  }));
  const batch = encode(BatchNextRequestSchema, { items: batchItems });

  const pre = {
    next: await preflight(() => seq.next({ conversation: group("bench-hot"), count: 1 })),
    next100: await preflight(() => seq.next({ conversation: group("bench-hot-100"), count: 100 })),
    batchNext: await preflight(() => seq.batchNext({ items: batchItems })),
  };
  const writes = (perCall: number) => mysqlWrites(deps.mariadb, perCall, deps.database, server);

  if (bench.opts.sections.has("server")) {
    rows.push(
      ...(await bench.serverOnlyRows({
        case: "Next count=1",
        method: "Next",
        path: `${SERVICE}/Next`,
        message: hot,
        service: server,
        pre: pre.next,
        units: { perCall: 1, name: "numbers" },
        around: writes(1),
      })),
    );
  }

  if (bench.opts.sections.has("extras")) {
    const section = "numbers/s";
    const concurrency = 64;
    // Numbers per second through one call shape: count=100 on one conversation, or 100 conversations × 1.
    const numbersRow = async (
      name: string,
      method: "Next" | "BatchNext",
      message: Uint8Array,
      ok: Preflight,
    ) => {
      const row = {
        section,
        case: name,
        target: server.name,
        method,
        path: `${SERVICE}/${method}`,
        protocol: "grpc" as const,
        concurrency,
      };
      return ok.ok
        ? bench.serverOnly({
            ...row,
            server,
            message,
            checkMetrics: true,
            units: { perCall: 100, name: "numbers" },
            around: writes(100),
          })
        : notMeasured(row, ok);
    };
    rows.push(await numbersRow("Next count=100", "Next", hundred, pre.next100));
    rows.push(await numbersRow("BatchNext 100 convs x1", "BatchNext", batch, pre.batchNext));
    try {
      const redis = await redisBenchmark(deps.redisPort, concurrency, size.redisRequests);
      rows.push({
        section,
        case: "redis-benchmark INCR",
        target: "redis",
        concurrency,
        status: "ok",
        requests: size.redisRequests,
        rps: redis.rps,
        unitsPerSec: redis.rps,
        unit: "numbers",
        p50Ms: redis.p50,
        p99Ms: redis.p99,
      });
    } catch (error) {
      rows.push({
        section,
        case: "redis-benchmark INCR",
        target: "redis",
        concurrency,
        status: `ERROR ${(error as Error).message.split("\n")[0]}`,
      });
    }

    // One hot conversation vs many: a different body per call, so the raw HTTP/2 load generator.
    const spread = size.spreadConversations;
    const nextBodies = (prefix: string, n: number) =>
      Array.from({ length: n }, (_, i) =>
        encode(NextRequestSchema, { conversation: group(`${prefix}-${i}`) }),
      );
    const common = {
      section: "hot vs spread",
      target: server.name,
      server,
      method: "Next",
      path: `${SERVICE}/Next`,
      protocol: "grpc" as const,
      concurrency,
      limit: { durationMs: size.loadMs },
      units: { perCall: 1, name: "numbers" },
    };
    if (!pre.next.ok) {
      for (const c of ["hot", "spread warm", "first touch"])
        rows.push(notMeasured({ ...common, case: c }, pre.next));
    } else {
      rows.push(
        await bench.raw({
          ...common,
          case: "Next, 1 hot conversation",
          messages: [hot],
          around: writes(1),
        }),
      );
      // Touch every spread conversation once first: BatchNext of 1,000 (then 100) new conversations when
      // that works, else Next calls. A failing batch size is reported in the notes.
      const warm = nextBodies("bench-spread", spread);
      const footprint = storageFootprint(deps);
      const empty = await footprint.before();
      const t0 = performance.now();
      const warmNotes: Record<string, string | number> = {};
      let warmedWith = "Next";
      let touched = 0;
      for (const chunk of pre.batchNext.ok ? [1000, 100] : []) {
        try {
          // One batch at a time: each new conversation costs a MySQL write, and the service's MySQL pool
          // queue (10 connections + 100 queued) overflows with more new conversations in flight.
          const batches = Math.ceil((spread - touched) / chunk);
          const from = touched;
          const result = await closedLoop(1, { requests: batches }, async (b) => {
            const start = from + b * chunk;
            await seq.batchNext({
              items: Array.from({ length: Math.min(chunk, spread - start) }, (_, k) => ({
                conversation: group(`bench-spread-${start + k}`),
              })),
            });
            return undefined;
          });
          if (result.ok < batches) throw new Error(result.firstError ?? "failed");
          touched = spread;
          warmedWith = `BatchNext x${chunk}`;
          break;
        } catch (error) {
          warmNotes[`BatchNext of ${chunk} new convs`] = String((error as Error).message).slice(0, 70);
        }
      }
      if (touched < spread) {
        const result = await bench.raw({
          ...common,
          case: "warm",
          concurrency: 8,
          messages: warm,
          limit: { requests: spread },
        });
        if (result.status !== "ok") warmNotes["first touch via Next c8"] = result.status.slice(0, 70);
      }
      const warmMs = performance.now() - t0;
      Object.assign(warmNotes, await footprint.after(empty, spread));
      const warmRow = await bench.raw({
        ...common,
        case: `Next, ${spread.toLocaleString("en-US")} convs (warm)`,
        messages: warm,
        around: writes(1),
      });
      warmRow.notes = {
        ...warmRow.notes,
        [`first touch of all via ${warmedWith}, convs/s`]: Math.round(spread / (warmMs / 1000)),
        ...warmNotes,
      };
      rows.push(warmRow);
      rows.push(
        await bench.raw({
          ...common,
          case: "Next, new convs (first touch)",
          messages: nextBodies("bench-fresh", bench.opts.quick ? 10_000 : 60_000),
          around: writes(1),
        }),
      );
    }
  }

  if (bench.opts.sections.has("e2e")) {
    if (pre.next.ok) {
      rows.push(
        ...(await e2eRows(bench, server, SequenceService, "Next count=1", "Next", (c) =>
          c.next({ conversation: group("bench-hot") }),
        )),
      );
    } else {
      rows.push(
        notMeasured(
          { section: "e2e client", case: "Next count=1", target: server.name, method: "Next" },
          pre.next,
        ),
      );
    }
  }
  return rows;
}
