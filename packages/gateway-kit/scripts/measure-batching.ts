/**
 * Numbers per second end to end at 64 concurrent callers, each taking one number per message: one Next
 * per message against the same callers through BatchingSequenceClient. Starts its own Redis, MariaDB and
 * sequence service (built: run `pnpm exec turbo run build` first).
 *
 *   pnpm --dir packages/gateway-kit measure:batching [--seconds 5 --callers 64 --in-flight 4 --window 1 --batch-items 1000]
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { SequenceService } from "@im-core/proto/sequence/v1";
import { sequenceEntry } from "@im-core/sequence/entry";
import { startMariaDb, startRedis, startService } from "@im-core/testkit";
import { BatchingSequenceClient } from "../src/sequence/batching-client.js";
import { group } from "../src/sequence/conversation.js";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "5" },
    callers: { type: "string", default: "64" },
    "in-flight": { type: "string", default: "4" },
    window: { type: "string", default: "1" },
    "batch-items": { type: "string", default: "1000" },
  },
});
const seconds = Number(values.seconds);
const callers = Number(values.callers);

/** CPU seconds (user + system) a process used so far, from /proc (Linux). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Runs `callers` loops of `take` for `ms`; answers numbers per second. */
async function measure(take: (caller: number) => Promise<unknown>, ms: number): Promise<number> {
  const until = performance.now() + ms;
  let numbers = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: callers }, async (_, caller) => {
      while (performance.now() < until) {
        await take(caller);
        numbers += 1;
      }
    }),
  );
  return numbers / ((performance.now() - started) / 1000);
}

const [redis, mariadb] = await Promise.all([startRedis(), startMariaDb()]);
const service = await startService({
  entry: sequenceEntry,
  env: {
    REDIS_URL: redis.url,
    MYSQL_URL: await mariadb.createDatabase(),
    AUTH_DISABLED: "true",
    SEQUENCE_NEW_CONVERSATION_RATE: "1000000",
  },
});
try {
  const transport = createGrpcTransport({ baseUrl: service.url });
  const plain = createClient(SequenceService, transport);
  // Counts BatchNext calls, for the average batch size.
  let batches = 0;
  const counted: typeof plain = {
    ...plain,
    batchNext: (request, options) => {
      batches += 1;
      return plain.batchNext(request, options);
    },
  };
  const batching = new BatchingSequenceClient(counted, {
    maxInFlight: Number(values["in-flight"]),
    windowMs: Number(values.window),
    maxBatchItems: Number(values["batch-items"]),
  });
  const single = (c: number) => plain.next({ conversation: group(`single-${c}`), count: 1 });
  const merged = (c: number) => batching.next(group(`merged-${c}`));
  await measure(single, 1_000); // warm-up: conversations started, connections and JIT warm
  await measure(merged, 1_000);
  const serviceCpuBefore = cpuSeconds(service.pid!);
  const perNext = await measure(single, seconds * 1_000);
  const serviceCpuPerNextUs = ((cpuSeconds(service.pid!) - serviceCpuBefore) / (perNext * seconds)) * 1e6;
  const batchesBefore = batches;
  const serviceCpu = cpuSeconds(service.pid!);
  const clientCpu = process.cpuUsage();
  const perBatch = await measure(merged, seconds * 1_000);
  const clientUsed = process.cpuUsage(clientCpu);
  const clientCpuS = (clientUsed.user + clientUsed.system) / 1e6;
  const serviceCpuS = cpuSeconds(service.pid!) - serviceCpu;
  const itemsPerBatch = (perBatch * seconds) / (batches - batchesBefore);
  await batching.close();
  console.log(
    JSON.stringify({
      node: process.version,
      callers,
      seconds,
      maxInFlight: Number(values["in-flight"]),
      windowMs: Number(values.window),
      maxBatchItems: Number(values["batch-items"]),
      oneNextPerMessage: Math.round(perNext),
      batchingClient: Math.round(perBatch),
      ratio: Number((perBatch / perNext).toFixed(1)),
      itemsPerBatch: Math.round(itemsPerBatch),
      // Where the time went: the service's CPU per number each way, and this process's (callers and
      // client) in the batched run.
      serviceCpuUsPerNumber: {
        oneNextPerMessage: Math.round(serviceCpuPerNextUs),
        batchingClient: Math.round((serviceCpuS / (perBatch * seconds)) * 1e6),
      },
      batchedClientCpuUsPerNumber: Math.round((clientCpuS / (perBatch * seconds)) * 1e6),
    }),
  );
} finally {
  await service.dispose();
  await Promise.all([redis.dispose(), mariadb.dispose()]);
}
