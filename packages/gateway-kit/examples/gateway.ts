/**
 * The README's example: a gateway node's session and batched sequence numbers, against `scripts/dev`
 * (registry on 8081, sequence on 8082, auth disabled), or the URLs in REGISTRY_URL and SEQUENCE_URL.
 *
 *   pnpm --dir packages/gateway-kit exec tsx examples/gateway.ts
 */
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { BatchingSequenceClient, GatewaySession, group } from "@im-core/gateway-kit";
import { RegistryService } from "@im-core/proto";

const registryUrl = process.env.REGISTRY_URL ?? "http://127.0.0.1:8081";
const sequenceUrl = process.env.SEQUENCE_URL ?? "http://127.0.0.1:8082";
const run = Date.now().toString(36); // fresh users and conversation on every run

const transport = createGrpcTransport({ baseUrl: registryUrl });
const name = (userId: string) => userId.replace(`-${run}`, "");

// One session per gateway node: one lease, renewed every TTL/3, devices re-registered after a loss.
const session = await GatewaySession.open({
  registry: transport,
  gatewayNode: "gw-example:9000",
  ttlSeconds: 30,
});
session.on("drop", ({ userId, deviceId, reason, location }) =>
  console.log(`close ${name(userId)}/${deviceId}: ${reason}, now on ${location?.gatewayNode}`),
);
session.on("recovered", ({ devices, elapsedMs }) =>
  console.log(`${devices} devices back in ${Math.round(elapsedMs)} ms`),
);

await session.register(`alice-${run}`, "phone");
// Many at once (a restart, a reconnect storm): BatchRegister, 1,000 devices per call.
const outcomes = await session.registerAll([
  { userId: `bob-${run}`, deviceId: "laptop" },
  { userId: `carol-${run}`, deviceId: "phone" },
]);
console.log(`registered ${outcomes.filter((o) => o.ok).length} more in one call`);
console.log(
  `lease ${session.leaseId}, ${session.deviceCount} devices, renewing every ${session.renewIntervalMs} ms`,
);

const registry = createClient(RegistryService, transport);
const { devices } = await registry.lookup({ userId: `alice-${run}` });
console.log(`alice is on ${devices.map((d) => `${d.deviceId}@${d.gatewayNode}`).join(", ")}`);

// Concurrent next() calls within 1 ms share one BatchNext; each caller gets its own range.
const sequence = new BatchingSequenceClient(createGrpcTransport({ baseUrl: sequenceUrl }));
const conversation = group(`room-${run}`);
const ranges = await Promise.all([1, 2, 3].map((count) => sequence.next(conversation, count)));
console.log(`ranges ${ranges.map((r) => `${r.first}-${r.last}`).join(" ")}`);

// Alice's phone reconnects through another gateway: this one is told to close its connection.
const other = await GatewaySession.open({
  registry: transport,
  gatewayNode: "gw-other:9000",
  ttlSeconds: 30,
});
const dropped = new Promise((resolve) => session.on("drop", resolve));
await other.register(`alice-${run}`, "phone");
await dropped;

await sequence.close();
await other.close();
await session.close(); // revokes the lease: its devices go at once
console.log(
  `after close bob has ${(await registry.lookup({ userId: `bob-${run}` })).devices.length} devices`,
);
