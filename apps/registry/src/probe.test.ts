import { createRequire } from "node:module";
const require = createRequire(import.meta.url);
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { RegistryService } from "@im-core/proto";
import { startEtcd, startEtcdCluster, startService } from "@im-core/testkit";
import { it } from "vitest";

async function tp(label: string, endpoints: string[], workers = 8) {
  const svc = await startService({ app: "registry", env: { ETCD_ENDPOINTS: endpoints.join(","), AUTH_DISABLED: "true" } });
  const client = createClient(RegistryService, createGrpcTransport({ baseUrl: svc.url }));
  const { leaseId } = await client.grantLease({ gatewayNode: "gw", ttlSeconds: 120 });
  { const c0 = cpu0(svc.pid!); const t0 = performance.now(); await Promise.all(Array.from({ length: 8 }, async () => { for (let i = 0; i < 100; i++) await client.lookup({ userId: "x" }); }));
    console.log("800 lookups (memory):", ((cpu0(svc.pid!) - c0) / 800).toFixed(2), "ms service CPU each,", (800 / ((performance.now() - t0) / 1000)).toFixed(0), "/s"); }
  let n = 0, stop = false;
  const worker = async (w: number) => { for (let i = 0; !stop; i++) { const userId = `t${w}-u${i}`; await client.register({ userId, deviceId: "d", gatewayNode: "gw", leaseId }); await client.lookup({ userId }); n++; } };
  const cpu = () => { const f = require("node:fs").readFileSync(`/proc/${svc.pid}/stat`, "utf8").split(") ")[1].split(" "); return (Number(f[11]) + Number(f[12])) * 10; };
  const c0 = cpu(); const me0 = process.cpuUsage();
  const t = performance.now(); const ws = Array.from({ length: workers }, (_, w) => worker(w)); await new Promise((res) => setTimeout(res, 2500)); stop = true; await Promise.all(ws);
  const me = process.cpuUsage(me0);
  console.log(label, workers, "workers", (n / ((performance.now() - t) / 1000)).toFixed(0), "pairs/s", "service cpu ms", cpu() - c0, "test cpu ms", ((me.user + me.system) / 1000).toFixed(0), "pairs", n);
  await svc.stop(); await svc.dispose();
}
function cpu0(pid: number) { const f = require("node:fs").readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" "); return (Number(f[11]) + Number(f[12])) * 10; }
it("probe tp", async () => {

  const c = await startEtcdCluster({ size: 3 }); await tp("cluster", c.endpoints); await c.dispose();
}, 90000);
