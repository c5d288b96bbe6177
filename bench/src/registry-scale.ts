import { sleep } from "@im-core/common";
import { LookupRequestSchema, RegistryService } from "@im-core/proto";
import { type EtcdServer, type ServiceProcess, startEtcd } from "@im-core/testkit";
import { reconnectStorm, type StormResult } from "./batch-register.js";
import { encode } from "./bodies.js";
import type { Bench } from "./context.js";
import { client } from "./e2e.js";
import { scrape, sum } from "./metrics.js";
import { rssBytes } from "./procs.js";
import type { BenchServers } from "./servers.js";
import type { Row } from "./table.js";

const SECTION = "registry at scale";
const LOOKUP = "/im.registry.v1.RegistryService/Lookup";
/** Long enough for every entry to outlive the whole case (fill, cold start, storm) on a slow machine. */
const TTL_SECONDS = 3_600;
/**
 * The scale case's registries collect garbage on SIGWINCH (bench only: the service has no such hook, and
 * takes SIGUSR2 as a stop), so a heap reading counts live data, not what the last allocations left.
 */
const GC_ON_SIGNAL = [
  "--expose-gc",
  "--import",
  'data:text/javascript,process.on("SIGWINCH",()=>{globalThis.gc();globalThis.gc()})',
];

interface Memory {
  rss: number;
  heap: number;
}

/** RSS and used heap after a forced GC (and the scrape that follows it). */
async function settledMemory(server: ServiceProcess): Promise<Memory> {
  process.kill(server.pid!, "SIGWINCH");
  await sleep(2_000);
  const samples = await scrape(server.url);
  return { rss: rssBytes(server.pid!), heap: sum(samples, "nodejs_heap_size_used_bytes") };
}

/** Polls a registry's gauge until `done(value)`; the milliseconds it took, or undefined after `timeoutMs`. */
async function gaugeReaches(
  server: ServiceProcess,
  name: string,
  done: (value: number) => boolean,
  timeoutMs: number,
): Promise<number | undefined> {
  const t0 = performance.now();
  while (performance.now() - t0 < timeoutMs) {
    if (done(sum(await scrape(server.url), name))) return performance.now() - t0;
    await sleep(100);
  }
  return undefined;
}

async function etcdSize(etcd: EtcdServer): Promise<Record<string, number>> {
  const samples = await scrape(etcd.endpoints[0]!);
  const mib = (bytes: number) => Number((bytes / 2 ** 20).toFixed(1));
  return {
    "etcd db MiB": mib(sum(samples, "etcd_mvcc_db_total_size_in_bytes")),
    "etcd db in use MiB": mib(sum(samples, "etcd_mvcc_db_total_size_in_use_in_bytes")),
    "etcd RSS MiB": mib(rssBytes(etcd.pid!)),
  };
}

function stormRow(name: string, target: string, storm: StormResult): Row {
  const failed = storm.failedDevices + (storm.requests - storm.ok) * 1_000;
  return {
    section: SECTION,
    case: name,
    target,
    method: "BatchRegister",
    protocol: "grpc",
    concurrency: 4,
    status: failed === 0 ? "ok" : `errors: ${failed} devices (${storm.firstError ?? ""})`.slice(0, 120),
    requests: storm.requests,
    rps: storm.rps,
    p50Ms: storm.p50Ms,
    p99Ms: storm.p99Ms,
    unitsPerSec: storm.devicesPerSec,
    unit: "devices",
    notes: { seconds: Number(storm.seconds.toFixed(1)) },
  };
}

/**
 * The registry at `bench.size.scaleDevices` devices, on an etcd of its own: the fill through
 * BatchRegister (time, etcd's size, the registry's RSS and heap per entry), the cold start of a second
 * instance against the filled etcd (process start → mirror live → first Lookup answered), and Lookup
 * on the first instance, quiet and while `bench.size.stormDevices` of the devices reconnect to another
 * gateway node through BatchRegister.
 */
export async function registryScale(bench: Bench, servers: BenchServers, rows: Row[]): Promise<void> {
  const n = bench.size.scaleDevices;
  const count = n.toLocaleString("en-US");
  // etcd's default 2 GiB quota would be the limit under test, not the registry; requests stay within
  // etcd's defaults (128 ops per txn, 1.5 MiB per request) because the service splits its writes.
  const etcd = await startEtcd({ extraArgs: [`--quota-backend-bytes=${8 * 2 ** 30}`] });
  try {
    const env = { ETCD_ENDPOINTS: etcd.endpoints.join(",") };
    const first = await servers.startService("registry", env, { nodeArgs: GC_ON_SIGNAL });
    const reg = client(RegistryService, first.url);
    const empty = await settledMemory(first);

    const fill = await reconnectStorm(reg, {
      prefix: "scale",
      devices: n,
      gatewayNode: "gw-scale-0:9000",
      concurrency: 4,
      ttlSeconds: TTL_SECONDS,
    });
    const mirrored = await gaugeReaches(first, "registry_mirror_entries", (v) => v >= n, 120_000);
    const full = await settledMemory(first);
    const perEntry = (bytes: number) => Math.round(bytes / n);
    rows.push({
      ...stormRow(`fill ${count} devices (BatchRegister)`, first.name, fill),
      ...(mirrored === undefined
        ? { status: "errors: the mirror did not hold every entry within 120 s" }
        : {}),
    });
    rows.at(-1)!.notes = {
      ...rows.at(-1)!.notes,
      "mirror heap B/entry": perEntry(full.heap - empty.heap),
      "RSS B/entry": perEntry(full.rss - empty.rss),
      "RSS MiB": Math.round(full.rss / 2 ** 20),
      ...(await etcdSize(etcd)),
    };

    rows.push(await coldStart(servers, env, n, empty));

    // Users spread over the whole key space, each with 2 devices.
    const lookups = Array.from({ length: 1_000 }, (_, i) =>
      encode(LookupRequestSchema, { userId: `scale-${Math.floor((i * n) / 2 / 1_000)}` }),
    );
    const lookupCase = {
      section: SECTION,
      target: first.name,
      server: first,
      method: "Lookup",
      path: LOOKUP,
      messages: lookups,
      protocol: "grpc" as const,
      concurrency: 64,
    };
    rows.push(
      await bench.raw({
        ...lookupCase,
        case: `Lookup at ${count} devices`,
        limit: { durationMs: bench.size.loadMs },
      }),
    );
    let stormOver = false;
    const storm = reconnectStorm(reg, {
      prefix: "scale",
      devices: bench.size.stormDevices,
      gatewayNode: "gw-scale-1:9000",
      concurrency: 4,
      ttlSeconds: TTL_SECONDS,
    }).finally(() => {
      stormOver = true;
    });
    const during = await bench.raw({
      ...lookupCase,
      case: `Lookup during a ${bench.size.stormDevices.toLocaleString("en-US")}-device storm`,
      limit: { until: () => stormOver },
    });
    const stormed = await storm;
    rows.push(
      during,
      stormRow(
        `reconnect storm, ${bench.size.stormDevices.toLocaleString("en-US")} devices`,
        first.name,
        stormed,
      ),
    );
    await servers.stop(first);
  } finally {
    await etcd.dispose();
  }
}

/** A second registry against the filled etcd: how long until its mirror answers, and what it holds. */
async function coldStart(
  servers: BenchServers,
  env: Record<string, string>,
  n: number,
  empty: Memory,
): Promise<Row> {
  const t0 = performance.now();
  const second = await servers.startService("registry", env, { name: "registry-2", nodeArgs: GC_ON_SIGNAL });
  const readyMs = performance.now() - t0;
  const base = {
    section: SECTION,
    case: `cold start at ${n.toLocaleString("en-US")} devices`,
    target: second.name,
  };
  try {
    const live = await gaugeReaches(second, "registry_mirror_live", (v) => v === 1, 300_000);
    if (live === undefined) return { ...base, status: "errors: the mirror was not live within 300 s" };
    const { devices } = await client(RegistryService, second.url).lookup({ userId: `scale-${(n >> 1) - 1}` });
    const answeredMs = performance.now() - t0;
    const loaded = await settledMemory(second);
    return {
      ...base,
      status: devices.length === 2 ? "ok" : `errors: Lookup answered ${devices.length} devices, expected 2`,
      notes: {
        "readyz s": Number((readyMs / 1000).toFixed(1)),
        "first Lookup from mirror s": Number((answeredMs / 1000).toFixed(1)),
        "mirror heap B/entry": Math.round((loaded.heap - empty.heap) / n),
        "RSS MiB": Math.round(loaded.rss / 2 ** 20),
      },
    };
  } finally {
    await servers.stop(second);
  }
}
