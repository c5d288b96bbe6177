import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { RegistryService } from "@im-core/proto";
import { createLogger, createServiceServer } from "@im-core/service-kit";
import { DeviceMirror, EtcdRegistryStore } from "@im-core/stores/etcd";
import { startEtcdCluster } from "@im-core/testkit";
import { it } from "vitest";
import { DeviceMirror as OldMirror } from "../../../../packages/stores/src/etcd/scratch-old/mirror/mirror.js";
import { EtcdRegistryStore as OldStore } from "../../../../packages/stores/src/etcd/scratch-old/store.js";
import { registryAccess } from "../access.js";
import { registryHandlers as newHandlers } from "../handlers/index.js";
import { registryHandlers as oldHandlers } from "./handlers/index.js";

async function run(label: string, endpoints: string[], old: boolean) {
  const opts = { endpoints, defaultTtlSeconds: 60, maxDevices: 5, devicePolicy: "reject" as const, keyRoot: `/${label}/` };
  const store: any = old ? new OldStore(opts) : new EtcdRegistryStore(opts);
  const mirror: any = old ? new OldMirror(store) : new DeviceMirror(store);
  await mirror.start(AbortSignal.timeout(5000));
  const server = createServiceServer({ service: RegistryService, accessPolicy: registryAccess, logger: createLogger("x", "silent"), readiness: [],
    routes: (router, { draining }) => router.service(RegistryService, (old ? oldHandlers : newHandlers)({ store, mirror, draining } as any)) });
  const { port } = await server.listen(0, "127.0.0.1");
  const client = createClient(RegistryService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` }));
  const { leaseId } = await client.grantLease({ gatewayNode: "gw", ttlSeconds: 120 });
  let n = 0, stop = false;
  const worker = async (w: number) => { for (let i = 0; !stop; i++) { const userId = `t${w}-u${i}`; await client.register({ userId, deviceId: "d", gatewayNode: "gw", leaseId }); await client.lookup({ userId }); n++; } };
  const t = performance.now(); const ws = Array.from({ length: 8 }, (_, w) => worker(w)); await new Promise((res) => setTimeout(res, 2500)); stop = true; await Promise.all(ws);
  console.log(label, (n / ((performance.now() - t) / 1000)).toFixed(0), "Register+Lookup pairs/s over gRPC");
  await server.close(); mirror.close(); store.close();
}
it("A/B over gRPC, 3-node cluster, 8 workers", async () => {
  const c = await startEtcdCluster({ size: 3 });
  for (let r = 0; r < 3; r++) { await run(`before${r}`, c.endpoints, true); await run(`after${r}`, c.endpoints, false); }
  await c.dispose();
}, 120000);
