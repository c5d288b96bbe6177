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

// One session per gateway node: one lease, renewed every TTL/3, devices re-registered after a loss.
const session = await GatewaySession.open({
  registry: createGrpcTransport({ baseUrl: registryUrl }),
  gatewayNode: "gw-example:9000",
  ttlSeconds: 30,
});
session.on("drop", ({ userId, deviceId, reason }) => console.log(`close ${userId}/${deviceId}: ${reason}`));
session.on("recovered", ({ devices, elapsedMs }) =>
  console.log(`${devices} devices back in ${Math.round(elapsedMs)} ms`),
);

await session.register(`alice-${run}`, "phone");
await session.register(`bob-${run}`, "laptop");
console.log(
  `lease ${session.leaseId}, ${session.deviceCount} devices, renewing every ${session.renewIntervalMs} ms`,
);

const registry = createClient(RegistryService, createGrpcTransport({ baseUrl: registryUrl }));
const { devices } = await registry.lookup({ userId: `alice-${run}` });
console.log(`alice is on ${devices.map((d) => `${d.deviceId}@${d.gatewayNode}`).join(", ")}`);

// Concurrent next() calls within 1 ms share one BatchNext; each caller gets its own range.
const sequence = new BatchingSequenceClient(createGrpcTransport({ baseUrl: sequenceUrl }));
const conversation = group(`room-${run}`);
const ranges = await Promise.all([1, 2, 3].map((count) => sequence.next(conversation, count)));
console.log(`ranges ${ranges.map((r) => `${r.first}-${r.last}`).join(" ")}`);

await sequence.close();
await session.close(); // revokes the lease: both devices go at once
console.log(
  `after close alice has ${(await registry.lookup({ userId: `alice-${run}` })).devices.length} devices`,
);
