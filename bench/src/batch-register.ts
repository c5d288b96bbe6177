/**
 * A reconnect storm through BatchRegister: `--devices` devices (2 per user) in batches of 1,000 on shared
 * leases, `--concurrency` calls in flight, against the built registry process on its own etcd. Prints
 * devices/s. Not part of `pnpm bench`'s suite: `node --import tsx src/batch-register.ts [--devices N]
 * [--concurrency C]` (build first).
 */
import { parseArgs } from "node:util";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { RegistryService } from "@im-core/proto";
import { registryEntry } from "@im-core/registry/entry";
import { startEtcd, startService } from "@im-core/testkit";

const { values } = parseArgs({
  options: { devices: { type: "string", default: "100000" }, concurrency: { type: "string", default: "4" } },
});
const total = Number(values.devices);
const concurrency = Number(values.concurrency);
const BATCH = 1_000;

const etcd = await startEtcd();
const service = await startService({
  entry: registryEntry,
  env: { ETCD_ENDPOINTS: etcd.endpoints.join(","), AUTH_DISABLED: "true", SHUTDOWN_GRACE_MS: "500" },
});
try {
  const client = createClient(RegistryService, createGrpcTransport({ baseUrl: service.url }));
  const gatewayNode = "gw-storm:9000";
  const batches = Math.ceil(total / BATCH);
  const leases = await Promise.all(
    Array.from({ length: batches }, () => client.grantLease({ gatewayNode, ttlSeconds: 600 })),
  );
  let next = 0;
  let failed = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let b = next++; b < batches; b = next++) {
        const devices = Array.from({ length: Math.min(BATCH, total - b * BATCH) }, (_, i) => {
          const n = b * BATCH + i;
          return { userId: `user-${n >> 1}`, deviceId: `device-${n & 1}` };
        });
        const { results } = await client.batchRegister({ gatewayNode, leaseId: leases[b]!.leaseId, devices });
        failed += results.filter((r) => r.code !== 0).length;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1_000;
  console.log(
    JSON.stringify({
      devices: total,
      concurrency,
      seconds: Number(seconds.toFixed(2)),
      devicesPerSecond: Math.round(total / seconds),
      failed,
    }),
  );
} finally {
  await service.dispose();
  await etcd.dispose();
}
