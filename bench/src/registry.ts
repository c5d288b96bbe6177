import { Code, ConnectError } from "@connectrpc/connect";
import {
  BatchLookupRequestSchema,
  LookupRequestSchema,
  RegisterRequestSchema,
  RegistryService,
} from "@im-core/proto";
import type { ServiceProcess } from "@im-core/testkit";
import { batchRegisterRow } from "./batch-register.js";
import { encode } from "./bodies.js";
import type { Bench } from "./context.js";
import { client, e2eRows } from "./e2e.js";
import { etcdBaselineRows } from "./registry-etcd.js";
import { GATEWAY, sharedLeases } from "./registry-leases.js";
import { mirrorMemory } from "./registry-memory.js";
import { watchLatency } from "./registry-watch.js";
import { notMeasured, preflight } from "./rows.js";
import type { Row } from "./table.js";

const SERVICE = "/im.registry.v1.RegistryService";

export async function registrySuite(
  bench: Bench,
  server: ServiceProcess,
  deps: { etcdEndpoints: string[] },
  /** Filled as cases finish, so a failure later keeps what was measured. */
  rows: Row[] = [],
): Promise<Row[]> {
  const size = bench.size;
  const reg = client(RegistryService, server.url);

  const { grant, leaseFor } = await sharedLeases(reg);
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
    if (registerOne.ok) rows.push(await batchRegisterRow(bench, server, registerRow));

    const lookupRow = rows.find(
      (r) =>
        r.method === "Lookup" && r.target === server.name && r.protocol === "grpc" && r.concurrency === 64,
    );
    rows.push(
      ...(await etcdBaselineRows(bench, deps.etcdEndpoints, concurrency, {
        register: registerRow,
        lookup: lookupRow,
        lookupUser,
      })),
    );

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
