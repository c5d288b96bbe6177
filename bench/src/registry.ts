import { setMaxListeners } from "node:events";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  BatchLookupRequestSchema,
  LookupRequestSchema,
  RegisterRequestSchema,
  RegistryService,
  WatchEvent_Type,
} from "@im-core/proto";
import { encodeValue, KeyLayout } from "@im-core/stores/etcd";
import { Etcd3 } from "etcd3";
import { encode } from "./bodies.js";
import { type Bench, loadRow, notMeasured, preflight } from "./context.js";
import { client, e2eRows } from "./e2e.js";
import { closedLoop } from "./loadgen.js";
import { scrape, sum } from "./metrics.js";
import type { ChildServer } from "./procs.js";
import { percentiles, sleep } from "./stats.js";
import type { Row } from "./table.js";

const SERVICE = "/im.registry.v1.RegistryService";
const GATEWAY = "gw-bench:9000";
const LEASE_TTL = 600;
/** Entries per shared lease, the cap DESIGN.md recommends to gateways. */
const PER_LEASE = 1000;

export async function registrySuite(
  bench: Bench,
  server: ChildServer,
  deps: { etcdEndpoints: string[] },
  /** Filled as cases finish, so a failure later keeps what was measured. */
  rows: Row[] = [],
): Promise<Row[]> {
  const size = bench.size;
  const reg = client(RegistryService, server.baseUrl);

  const leases: bigint[] = [];
  const grant = await preflight(async () => {
    leases.push((await reg.grantLease({ gatewayNode: GATEWAY, ttlSeconds: LEASE_TTL })).leaseId);
  });
  /** The shared lease for entry `i` (0n = none: the service grants one per entry). */
  const leaseFor = async (i: number): Promise<bigint> => {
    if (!grant.ok) return 0n;
    const index = Math.floor(i / PER_LEASE);
    while (leases.length <= index) {
      leases.push((await reg.grantLease({ gatewayNode: GATEWAY, ttlSeconds: LEASE_TTL })).leaseId);
    }
    return leases[index]!;
  };
  const lookupUser = "bench-u0";
  const registerOne = await preflight(async () =>
    reg.register({ userId: lookupUser, deviceId: "d0", gatewayNode: GATEWAY, leaseId: await leaseFor(0) }),
  );
  const lookupPre = await preflight(async () => {
    const { devices } = await reg.lookup({ userId: lookupUser });
    if (registerOne.ok && devices.length !== 1) {
      throw new ConnectError(`Lookup returned ${devices.length} devices, expected 1`, Code.Internal);
    }
  });

  // Users for BatchLookup, registered through the service with the raw load generator.
  const registerBodies = async (prefix: string, from: number, n: number) => {
    const bodies: Uint8Array[] = [];
    for (let i = from; i < from + n; i++) {
      bodies.push(
        encode(RegisterRequestSchema, {
          userId: `${prefix}-${i}`,
          deviceId: "d",
          gatewayNode: GATEWAY,
          leaseId: await leaseFor(i),
        }),
      );
    }
    return bodies;
  };
  const batchUsers = Array.from({ length: size.batchLookupUsers }, (_, i) => `bl-${i}`);
  if (registerOne.ok) {
    await bench.raw({
      section: "setup",
      case: "register",
      target: server.name,
      server,
      method: "Register",
      path: `${SERVICE}/Register`,
      messages: await registerBodies("bl", 0, batchUsers.length),
      protocol: "grpc",
      concurrency: 64,
      limit: { requests: batchUsers.length },
    });
  }
  const batchPre = await preflight(async () => {
    const { devices } = await reg.batchLookup({ userIds: batchUsers });
    if (registerOne.ok && devices.length !== batchUsers.length) {
      throw new ConnectError(
        `BatchLookup returned ${devices.length} devices of ${batchUsers.length}`,
        Code.Internal,
      );
    }
  });
  const lookup = encode(LookupRequestSchema, { userId: lookupUser });

  if (bench.opts.sections.has("server")) {
    rows.push(
      ...(await bench.serverOnlyRows({
        case: "Lookup 1 user",
        method: "Lookup",
        path: `${SERVICE}/Lookup`,
        message: lookup,
        service: server,
        pre: lookupPre,
      })),
    );
  }

  if (bench.opts.sections.has("extras")) {
    const concurrency = 64;
    const bl = {
      section: "registry",
      case: `BatchLookup ${batchUsers.length} users`,
      target: server.name,
      method: "BatchLookup",
      path: `${SERVICE}/BatchLookup`,
      protocol: "grpc" as const,
      concurrency,
    };
    rows.push(
      batchPre.ok
        ? await bench.serverOnly({
            ...bl,
            server,
            message: encode(BatchLookupRequestSchema, { userIds: batchUsers }),
            checkMetrics: true,
            units: { perCall: batchUsers.length, name: "users" },
          })
        : notMeasured(bl, batchPre),
    );

    // Register on shared leases (distinct users) vs raw etcd put-with-lease, same concurrency.
    const regCase = {
      section: "registry vs etcd",
      case: grant.ok ? "Register (shared lease)" : "Register (lease per entry: GrantLease fails)",
      target: server.name,
      method: "Register",
      path: `${SERVICE}/Register`,
      protocol: "grpc" as const,
      concurrency,
    };
    let registerRow: Row;
    if (registerOne.ok) {
      const bodies = await registerBodies("rr", 0, size.registerBodies);
      registerRow = await bench.raw({
        ...regCase,
        server,
        messages: bodies,
        limit: { durationMs: size.loadMs },
      });
    } else registerRow = notMeasured(regCase, registerOne);
    rows.push(registerRow);

    const etcd = new Etcd3({ hosts: deps.etcdEndpoints });
    try {
      const lease = etcd.lease(LEASE_TTL, { autoKeepAlive: false });
      const leaseId = await lease.grant();
      const value = JSON.stringify({ gatewayNode: GATEWAY, connectedAt: new Date().toISOString(), leaseId });
      const put = await closedLoop(concurrency, { durationMs: size.loadMs }, async (i) => {
        await lease.put(`bench-raw/rr-${i % size.registerBodies}/d`).value(value);
        return undefined;
      });
      rows.push(
        loadRow(
          { section: "registry vs etcd", case: "etcd3 put with lease", target: "etcd", concurrency },
          put,
          undefined,
        ),
      );
      if (registerRow.rps && put.rps) {
        registerRow.notes = {
          ...registerRow.notes,
          "/etcd put": `${(registerRow.rps / put.rps).toFixed(2)}x`,
        };
      }
      await etcd.put(`bench-raw/${lookupUser}/d0`).value(value);
      const range = await closedLoop(concurrency, { durationMs: size.loadMs }, async () => {
        await etcd.getAll().prefix(`bench-raw/${lookupUser}/`).strings();
        return undefined;
      });
      const rangeRow = loadRow(
        { section: "registry vs etcd", case: "etcd3 range get (prefix)", target: "etcd", concurrency },
        range,
        undefined,
      );
      const lookupRow = rows.find(
        (r) =>
          r.method === "Lookup" && r.target === server.name && r.protocol === "grpc" && r.concurrency === 64,
      );
      if (lookupRow?.rps && range.rps) {
        rangeRow.notes = { "Lookup(h2load grpc c64)/range": `${(lookupRow.rps / range.rps).toFixed(2)}x` };
      }
      rows.push(rangeRow);
    } catch (error) {
      rows.push({
        section: "registry vs etcd",
        case: "etcd3 raw",
        target: "etcd",
        status: `ERROR ${(error as Error).message}`,
      });
    } finally {
      etcd.close();
    }

    rows.push(await watchLatency(bench, server, registerOne.ok, leaseFor));
    rows.push(await mirrorMemory(bench, server, lookupPre.ok, deps.etcdEndpoints));
  }

  if (bench.opts.sections.has("e2e")) {
    if (lookupPre.ok) {
      rows.push(
        ...(await e2eRows(bench, server, RegistryService, "Lookup 1 user", "Lookup", (c) =>
          c.lookup({ userId: lookupUser }),
        )),
      );
    } else {
      rows.push(
        notMeasured(
          { section: "e2e client", case: "Lookup 1 user", target: server.name, method: "Lookup" },
          lookupPre,
        ),
      );
    }
  }
  return rows;
}

/** Time from starting a Register call to its PUT event arriving on each of N open Watch streams. */
async function watchLatency(
  bench: Bench,
  server: ChildServer,
  canRegister: boolean,
  leaseFor: (i: number) => Promise<bigint>,
): Promise<Row> {
  const streams = bench.size.watchStreams;
  const base: Omit<Row, "status"> = {
    section: "registry",
    case: `Register -> event on ${streams} Watch streams`,
    target: server.name,
    method: "Watch",
    protocol: "grpc",
    concurrency: streams,
  };
  if (!canRegister) return { ...base, status: "skipped: Register does not work" };
  const reg = client(RegistryService, server.baseUrl);
  const abort = new AbortController();
  setMaxListeners(streams + 10, abort.signal);
  const pending = new Map<string, { t0: number; tAck: number; arrived: number; done: () => void }>();
  const fromCall: number[] = [];
  /** Arrival minus the Register response's arrival (negative: the event came first). */
  const fromAck: number[] = [];
  const early: number[] = [];
  let streamError: string | undefined;
  const watchers = Array.from({ length: streams }, async () => {
    try {
      for await (const response of reg.watch({}, { signal: abort.signal })) {
        const now = performance.now();
        for (const event of response.events) {
          if (event.type !== WatchEvent_Type.PUT || !event.location) continue;
          const waiter = pending.get(event.location.userId);
          if (!waiter) continue;
          fromCall.push(now - waiter.t0);
          if (waiter.tAck > 0) fromAck.push(now - waiter.tAck);
          else early.push(now);
          if (++waiter.arrived === streams) waiter.done();
        }
      }
    } catch (error) {
      const e = ConnectError.from(error);
      if (e.code !== Code.Canceled) streamError ??= `${Code[e.code]}: ${e.rawMessage}`;
    }
  });
  const fire = async (userId: string, timeoutMs: number) => {
    let done!: () => void;
    const all = new Promise<void>((resolve) => {
      done = resolve;
    });
    const waiter = { t0: performance.now(), tAck: 0, arrived: 0, done };
    pending.set(userId, waiter);
    await reg.register({ userId, deviceId: "d", gatewayNode: GATEWAY, leaseId: await leaseFor(0) });
    waiter.tAck = performance.now();
    for (const t of early.splice(0)) fromAck.push(t - waiter.tAck);
    const timedOut = await Promise.race([all.then(() => false), sleep(timeoutMs).then(() => true)]);
    pending.delete(userId);
    return { arrived: waiter.arrived, timedOut };
  };
  try {
    await sleep(200);
    // Warm-up event: also proves every stream is open (retried while streams connect).
    let ready = false;
    for (let attempt = 0; attempt < 5 && !ready && !streamError; attempt++) {
      ready = !(await fire(`watch-warm-${attempt}`, 2000)).timedOut;
    }
    fromCall.length = 0;
    fromAck.length = 0;
    early.length = 0;
    if (!ready) {
      return {
        ...base,
        status: streamError
          ? streamError.startsWith("Unimplemented")
            ? "UNIMPLEMENTED"
            : `ERROR ${streamError}`
          : "ERROR events did not reach every stream",
      };
    }
    let missing = 0;
    const t0 = performance.now();
    for (let k = 0; k < bench.size.watchEvents; k++) {
      const { arrived } = await fire(`watch-${k}`, 5000);
      missing += streams - arrived;
    }
    const seconds = (performance.now() - t0) / 1000;
    const call = percentiles(fromCall);
    const ack = percentiles(fromAck);
    const beforeAck = fromAck.filter((d) => d < 0).length;
    return {
      ...base,
      status: missing === 0 ? "ok" : `errors: ${missing} events missing`,
      requests: bench.size.watchEvents,
      rps: bench.size.watchEvents / seconds,
      unitsPerSec: fromCall.length / seconds,
      unit: "events",
      p50Ms: call.p50,
      p99Ms: call.p99,
      notes: {
        "events before the Register response": `${((100 * beforeAck) / Math.max(1, fromAck.length)).toFixed(0)}%`,
        "vs response p50 ms": ack.p50,
        "p99 ms": ack.p99,
      },
    };
  } finally {
    abort.abort();
    await Promise.allSettled(watchers);
  }
}

/**
 * RSS and heap of the registry before and after N more devices appear on shared leases. The entries are
 * written straight into etcd in the registry's own key layout (128 puts per transaction), as other
 * registry instances would write them: the mirror ingests them from its watch, as it does in production,
 * and the fill takes seconds instead of N Register round trips. A Lookup of the last entry proves the
 * mirror caught up before the "after" reading.
 */
async function mirrorMemory(
  bench: Bench,
  server: ChildServer,
  lookupWorks: boolean,
  etcdEndpoints: string[],
): Promise<Row> {
  const n = bench.size.memoryEntries;
  const base: Omit<Row, "status"> = {
    section: "registry",
    case: `mirror memory, +${n.toLocaleString("en-US")} devices`,
    target: server.name,
  };
  const reg = client(RegistryService, server.baseUrl);
  const memory = async () => {
    await sleep(1500);
    const samples = await scrape(server.baseUrl);
    const mirror = samples.filter(
      (s) => /mirror|cache|entries/i.test(s.name) && !s.name.endsWith("_created"),
    );
    return {
      rss: sum(samples, "process_resident_memory_bytes"),
      heap: sum(samples, "nodejs_heap_size_used_bytes"),
      mirror: Object.fromEntries(mirror.map((s) => [s.name, s.value])),
    };
  };
  const etcd = new Etcd3({ hosts: etcdEndpoints });
  try {
    const layout = new KeyLayout();
    const leases: string[] = [];
    for (let i = 0; i < Math.ceil(n / PER_LEASE); i++) {
      leases.push(await etcd.lease(LEASE_TTL, { autoKeepAlive: false }).grant());
    }
    const before = await memory();
    const cpu0 = server.cpuMs();
    const t0 = performance.now();
    const perTxn = 128;
    const fill = await closedLoop(4, { requests: Math.ceil(n / perTxn) }, async (t) => {
      const success = [];
      for (let i = t * perTxn; i < Math.min(n, (t + 1) * perTxn); i++) {
        const lease = Math.floor(i / PER_LEASE);
        success.push({
          request_put: {
            key: Buffer.from(layout.deviceKey(`mem-${i}`, "d")),
            value: encodeValue({ gatewayNode: `gw-bench-${lease}:9000`, connectedAtMs: Date.now() }),
            lease: leases[lease]!,
          },
        });
      }
      await etcd.kv.txn({ compare: [], success, failure: [] });
      return undefined;
    });
    if (fill.ok * perTxn < n) return { ...base, status: `ERROR filling etcd: ${fill.firstError}` };
    const filledMs = performance.now() - t0;
    let caughtUp = !lookupWorks;
    while (lookupWorks && performance.now() - t0 < 120_000) {
      if ((await reg.lookup({ userId: `mem-${n - 1}` })).devices.length === 1) {
        caughtUp = true;
        break;
      }
      await sleep(50);
    }
    const ingestMs = performance.now() - t0;
    const cpuMs = server.cpuMs() - cpu0;
    const after = await memory();
    const per100k = (d: number) => Number(((d * 100_000) / n / (1024 * 1024)).toFixed(1));
    const notes: Record<string, string | number> = {
      "RSS MiB/100k": per100k(after.rss - before.rss),
      "heap MiB/100k": per100k(after.heap - before.heap),
      "RSS after MiB": Math.round(after.rss / 1024 / 1024),
      "etcd fill s": Number((filledMs / 1000).toFixed(1)),
      "visible to Lookup after s": lookupWorks ? Number((ingestMs / 1000).toFixed(1)) : "n/a",
      "server cpu µs/entry": Math.round((cpuMs * 1000) / n),
    };
    for (const [name, value] of Object.entries(after.mirror))
      notes[name] = `${before.mirror[name] ?? "?"}->${value}`;
    return {
      ...base,
      status: caughtUp ? "ok" : "errors: the mirror did not show the last entry within 120 s",
      requests: n,
      unitsPerSec: n / (ingestMs / 1000),
      unit: "entries",
      notes,
    };
  } finally {
    etcd.close();
  }
}
