import { randomUUID } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { PROTO_DIR } from "./testing/process.js";

/**
 * A client that shares no code with Connect: grpc-js with descriptors loaded at run time from the
 * .proto sources (protobufjs, not protobuf-es), over cleartext HTTP/2 with prior knowledge, on the
 * same port the Connect clients and browsers use.
 */
const definition = protoLoader.loadSync(
  ["im/registry/v1/registry.proto", "im/sequence/v1/sequence.proto", "grpc/health/v1/health.proto"],
  { includeDirs: [PROTO_DIR], longs: String, enums: String, defaults: true, oneofs: true },
);
// biome-ignore lint/suspicious/noExplicitAny: loadPackageDefinition's result is typed only at run time
const loaded = grpc.loadPackageDefinition(definition) as any;
type Constructor = grpc.ServiceClientConstructor;

type Callback<T> = (error: grpc.ServiceError | null, value?: T) => void;
type UnaryMethod<T> = (request: unknown, options: grpc.CallOptions, callback: Callback<T>) => void;

type Outcome<T> = { ok: true; value: T } | { ok: false; error: grpc.ServiceError };

function unary<T>(client: grpc.Client, method: string, request: unknown): Promise<Outcome<T>> {
  const call = (client as unknown as Record<string, UnaryMethod<T>>)[method]!.bind(client);
  return new Promise((resolve) => {
    call(request, { deadline: Date.now() + 10_000 }, (error, value) =>
      resolve(error ? { ok: false, error } : { ok: true, value: value as T }),
    );
  });
}

/** The answer of a call that must succeed; any error fails the test with its gRPC code and details. */
function answered<T>(rpc: string, outcome: Outcome<T>): T {
  if (!outcome.ok) {
    throw new Error(`${rpc} (grpc-js) failed: ${grpc.status[outcome.error.code]}: ${outcome.error.details}`);
  }
  return outcome.value;
}

let registry: grpc.Client;
let sequence: grpc.Client;
let registryHealth: grpc.Client;
let sequenceHealth: grpc.Client;

beforeAll(() => {
  const insecure = grpc.credentials.createInsecure();
  const registryTarget = new URL(inject("registryUrl")).host;
  const sequenceTarget = new URL(inject("sequenceUrl")).host;
  registry = new (loaded.im.registry.v1.RegistryService as Constructor)(registryTarget, insecure);
  sequence = new (loaded.im.sequence.v1.SequenceService as Constructor)(sequenceTarget, insecure);
  registryHealth = new (loaded.grpc.health.v1.Health as Constructor)(registryTarget, insecure);
  sequenceHealth = new (loaded.grpc.health.v1.Health as Constructor)(sequenceTarget, insecure);
});

afterAll(() => {
  for (const client of [registry, sequence, registryHealth, sequenceHealth]) client?.close();
});

interface DeviceLocation {
  userId: string;
  deviceId: string;
  gatewayNode: string;
  leaseId: string;
  connectedAt: { seconds: string; nanos: number } | null;
}

describe("a plain gRPC client (grpc-js + proto-loader)", () => {
  test("registers a device on the registry and looks it up", async () => {
    const userId = `grpc-${randomUUID()}`;
    const before = answered(
      "Lookup",
      await unary<{ devices: DeviceLocation[] }>(registry, "Lookup", { userId }),
    );
    expect(before.devices).toEqual([]);
    const registered = answered(
      "Register",
      await unary<{ leaseId: string; ttlSeconds: number }>(registry, "Register", {
        userId,
        deviceId: "desktop",
        gatewayNode: "gw-grpc:9000",
      }),
    );
    expect(BigInt(registered.leaseId)).toBeGreaterThan(0n);
    expect(registered.ttlSeconds).toBeGreaterThan(0);
    const lookup = answered(
      "Lookup",
      await unary<{ devices: DeviceLocation[] }>(registry, "Lookup", { userId }),
    );
    expect(lookup.devices).toEqual([
      expect.objectContaining({
        userId,
        deviceId: "desktop",
        gatewayNode: "gw-grpc:9000",
        leaseId: registered.leaseId,
      }),
    ]);
    expect(BigInt(lookup.devices[0]!.connectedAt?.seconds ?? "0")).toBeGreaterThan(0n);
  });

  test("follows a Watch stream while a device registers", async () => {
    const userId = `grpc-watch-${randomUUID()}`;
    type WatchResponse = { events: { type: string; location: DeviceLocation }[] };
    const watch = (
      registry as unknown as Record<string, (request: unknown) => grpc.ClientReadableStream<WatchResponse>>
    ).Watch!;
    const call = watch.call(registry, { userIds: [userId] });
    const seen = new Promise<{ type: string; location: DeviceLocation } | grpc.ServiceError>((resolve) => {
      call.on("data", (response: WatchResponse) => {
        const event = response.events.find((e) => e.location?.userId === userId);
        if (event) resolve(event);
      });
      call.on("error", (error: grpc.ServiceError) => resolve(error));
    });
    // Registering before the server has set the watch up could miss the event: retry until it shows.
    let outcome: Awaited<typeof seen> | undefined;
    const leaseIds: string[] = [];
    try {
      for (let attempt = 0; attempt < 20 && outcome === undefined; attempt++) {
        const registered = answered(
          "Register",
          await unary<{ leaseId: string }>(registry, "Register", {
            userId,
            deviceId: "watch",
            gatewayNode: "gw-grpc:9000",
          }),
        );
        leaseIds.push(registered.leaseId);
        outcome = await Promise.race([
          seen,
          new Promise<undefined>((r) => setTimeout(() => r(undefined), 250)),
        ]);
      }
    } finally {
      call.cancel();
    }
    if (outcome === undefined) throw new Error("no Watch event within 5 s");
    if ("code" in outcome) {
      throw new Error(`Watch (grpc-js) failed: ${grpc.status[outcome.code]}: ${outcome.details}`);
    }
    expect(outcome).toMatchObject({
      type: "TYPE_PUT",
      location: { userId, deviceId: "watch", gatewayNode: "gw-grpc:9000" },
    });
    expect(leaseIds).toContain(outcome.location.leaseId);
  });

  test("allocates increasing sequence numbers", async () => {
    const conversation = { groupId: `grpc-${randomUUID()}` };
    type Range = { first: string; last: string };
    const first = answered("Next", await unary<Range>(sequence, "Next", { conversation, count: 10 }));
    expect(first).toEqual({ first: "1", last: "10" });
    // count 0 means one number; gaps are allowed, going back is not.
    const second = answered("Next", await unary<Range>(sequence, "Next", { conversation }));
    expect(BigInt(second.first)).toBeGreaterThan(10n);
    expect(second.last).toBe(second.first);
  });

  test("gets INVALID_ARGUMENT with the field named in grpc-message for a Next without a conversation", async () => {
    const answer = await unary(sequence, "Next", {});
    if (answer.ok) throw new Error(`Next without a conversation succeeded: ${JSON.stringify(answer.value)}`);
    expect(grpc.status[answer.error.code], answer.error.details).toBe("INVALID_ARGUMENT");
    expect(answer.error.details).toMatch(/conversation/);
  });

  test("reads SERVING from the standard grpc.health.v1 service of both services", async () => {
    for (const client of [registryHealth, sequenceHealth]) {
      const health = answered(
        "Health.Check",
        await unary<{ status: string }>(client, "Check", { service: "" }),
      );
      expect(health.status).toBe("SERVING");
    }
  });
});
