import type { Client } from "@connectrpc/connect";
import { RegistryService } from "@im-core/proto";
import type { ServiceProcess } from "@im-core/testkit";
import type { Bench } from "./context.js";
import { client } from "./e2e.js";
import { closedLoop, type LoadResult } from "./loadgen.js";
import { serverCpuMs } from "./procs.js";
import { GATEWAY, LEASE_TTL } from "./registry-leases.js";
import { loadRow } from "./rows.js";
import type { Row } from "./table.js";

/** Devices per BatchRegister call: the service's limit, and what a gateway sends after a restart. */
export const BATCH = 1_000;

export interface StormResult extends LoadResult {
  devices: number;
  devicesPerSec: number;
  /** Devices answered with a non-zero code, although their call succeeded. */
  failedDevices: number;
}

/**
 * A reconnect storm: devices `from` .. `from + devices - 1` (2 per user, `user-<n/2>`/`device-<n%2>`
 * under `prefix`) register through BatchRegister on `gatewayNode`, 1,000 per call, each call on a
 * lease of its own (as a gateway that shares one lease per 1,000 devices), `concurrency` calls in
 * flight. Devices already registered elsewhere move to `gatewayNode`. The leases are granted before
 * the clock starts, so the figure is BatchRegister's alone.
 */
export async function reconnectStorm(
  reg: Client<typeof RegistryService>,
  opts: {
    prefix: string;
    from?: number;
    devices: number;
    gatewayNode: string;
    concurrency: number;
    /** Default LEASE_TTL; longer when the entries must outlive a long case. */
    ttlSeconds?: number;
  },
): Promise<StormResult> {
  const from = opts.from ?? 0;
  const calls = Math.ceil(opts.devices / BATCH);
  const leases: bigint[] = [];
  for (let i = 0; i < calls; i += 50) {
    const grants = Array.from({ length: Math.min(50, calls - i) }, () =>
      reg.grantLease({ gatewayNode: opts.gatewayNode, ttlSeconds: opts.ttlSeconds ?? LEASE_TTL }),
    );
    for (const { leaseId } of await Promise.all(grants)) leases.push(leaseId);
  }
  let failedDevices = 0;
  const result = await closedLoop(opts.concurrency, { requests: calls }, async (call) => {
    const first = from + call * BATCH;
    const devices = Array.from({ length: Math.min(BATCH, from + opts.devices - first) }, (_, i) => {
      const n = first + i;
      return { userId: `${opts.prefix}-${n >> 1}`, deviceId: `device-${n & 1}` };
    });
    const leaseId = leases[call]!;
    const { results } = await reg.batchRegister({ gatewayNode: opts.gatewayNode, leaseId, devices });
    const failed = results.filter((r) => r.code !== 0);
    failedDevices += failed.length;
    return failed.length === 0
      ? undefined
      : { code: `device code ${failed[0]!.code}`, message: failed[0]!.message };
  });
  return {
    ...result,
    devices: opts.devices,
    devicesPerSec: opts.devices / result.seconds,
    failedDevices,
  };
}

/**
 * BatchRegister's row of the suite: `bench.size.batchRegisterDevices` new devices in one storm, 4 calls
 * in flight, next to the single Register row of the same run (`register`): devices/s of each.
 */
export async function batchRegisterRow(bench: Bench, server: ServiceProcess, register: Row): Promise<Row> {
  const concurrency = 4;
  const base = {
    section: "registry vs etcd",
    case: `BatchRegister ${BATCH.toLocaleString("en-US")} devices/call`,
    target: server.name,
    method: "BatchRegister",
    protocol: "grpc",
    concurrency,
  };
  const cpu0 = serverCpuMs(server);
  const storm = await reconnectStorm(client(RegistryService, server.url), {
    prefix: "br",
    devices: bench.size.batchRegisterDevices,
    gatewayNode: GATEWAY,
    concurrency,
  });
  const row = loadRow(base, storm, serverCpuMs(server) - cpu0, { perCall: BATCH, name: "devices" });
  const single = register.status === "ok" ? register.rps : undefined;
  return {
    ...row,
    notes: {
      devices: storm.devices,
      "failed devices": storm.failedDevices,
      ...(single ? { "vs Register devices/s": `${(storm.devicesPerSec / single).toFixed(1)}x` } : {}),
    },
  };
}
