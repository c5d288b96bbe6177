import { sleep } from "@im-core/common";
import { RegistryService } from "@im-core/proto";
import { encodeValue, KeyLayout } from "@im-core/stores/etcd";
import type { ServiceProcess } from "@im-core/testkit";
import { Etcd3 } from "etcd3";
import type { Bench } from "./context.js";
import { client } from "./e2e.js";
import { closedLoop } from "./loadgen.js";
import { scrape, sum } from "./metrics.js";
import { serverCpuMs } from "./procs.js";
import { LEASE_TTL, PER_LEASE } from "./registry-leases.js";
import type { Row } from "./table.js";

/**
 * RSS and heap of the registry before and after N more devices appear on shared leases. The entries are
 * written straight into etcd in the registry's own key layout (128 puts per transaction), as other
 * registry instances would write them: the mirror ingests them from its watch, as it does in production,
 * and the fill takes seconds instead of N Register round trips. A Lookup of the last entry proves the
 * mirror caught up before the "after" reading.
 */
export async function mirrorMemory(
  bench: Bench,
  server: ServiceProcess,
  lookupWorks: boolean,
  etcdEndpoints: string[],
): Promise<Row> {
  const n = bench.size.memoryEntries;
  const base: Omit<Row, "status"> = {
    section: "registry",
    case: `mirror memory, +${n.toLocaleString("en-US")} devices`,
    target: server.name,
  };
  const reg = client(RegistryService, server.url);
  const memory = async () => {
    await sleep(1500);
    const samples = await scrape(server.url);
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
    const cpu0 = serverCpuMs(server);
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
    const cpuMs = serverCpuMs(server) - cpu0;
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
