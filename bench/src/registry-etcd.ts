import { Etcd3 } from "etcd3";
import type { Bench } from "./context.js";
import { closedLoop } from "./loadgen.js";
import { GATEWAY, LEASE_TTL } from "./registry-leases.js";
import { loadRow } from "./rows.js";
import type { Row } from "./table.js";

/**
 * What Register and Lookup do, done with the etcd3 client straight against etcd (a put with a lease, a
 * prefix range) at the same concurrency: how much the service adds. The ratios land in the notes of the
 * service's rows.
 */
export async function etcdBaselineRows(
  bench: Bench,
  etcdEndpoints: string[],
  concurrency: number,
  service: { register: Row; lookup: Row | undefined; lookupUser: string },
): Promise<Row[]> {
  const size = bench.size;
  const rows: Row[] = [];
  const etcd = new Etcd3({ hosts: etcdEndpoints });
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
    if (service.register.rps && put.rps) {
      service.register.notes = {
        ...service.register.notes,
        "/etcd put": `${(service.register.rps / put.rps).toFixed(2)}x`,
      };
    }
    await etcd.put(`bench-raw/${service.lookupUser}/d0`).value(value);
    const range = await closedLoop(concurrency, { durationMs: size.loadMs }, async () => {
      await etcd.getAll().prefix(`bench-raw/${service.lookupUser}/`).strings();
      return undefined;
    });
    const rangeRow = loadRow(
      { section: "registry vs etcd", case: "etcd3 range get (prefix)", target: "etcd", concurrency },
      range,
      undefined,
    );
    if (service.lookup?.rps && range.rps) {
      rangeRow.notes = {
        "Lookup(h2load grpc c64)/range": `${(service.lookup.rps / range.rps).toFixed(2)}x`,
      };
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
  return rows;
}
