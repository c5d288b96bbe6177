import { randomUUID } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { afterAll, beforeAll, describe, expect, inject, type TestContext, test } from "vitest";
import { acceptUnimplemented } from "./support/outcome.js";
import { PROTO_DIR } from "./support/process.js";

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

/** True when the call was answered for real; UNIMPLEMENTED is accepted and annotated, anything else fails. */
function implemented<T>(
  ctx: TestContext,
  rpc: string,
  outcome: Outcome<T>,
): outcome is { ok: true; value: T } {
  if (outcome.ok) return true;
  expect(grpc.status[outcome.error.code], outcome.error.details).toBe("UNIMPLEMENTED");
  acceptUnimplemented(ctx, `${rpc} (grpc-js)`, outcome.error.details);
  return false;
}

let registry: grpc.Client;
let sequence: grpc.Client;
let registryHealth: grpc.Client;

beforeAll(() => {
  const insecure = grpc.credentials.createInsecure();
  const registryTarget = new URL(inject("registryUrl")).host;
  registry = new (loaded.im.registry.v1.RegistryService as Constructor)(registryTarget, insecure);
  sequence = new (loaded.im.sequence.v1.SequenceService as Constructor)(
    new URL(inject("sequenceUrl")).host,
    insecure,
  );
  registryHealth = new (loaded.grpc.health.v1.Health as Constructor)(registryTarget, insecure);
});

afterAll(() => {
  for (const client of [registry, sequence, registryHealth]) client?.close();
});

interface DeviceLocation {
  userId: string;
  deviceId: string;
  gatewayNode: string;
  leaseId: string;
  connectedAt: { seconds: string; nanos: number } | null;
}

describe("a plain gRPC client (grpc-js + proto-loader)", () => {
  test("registers a device on the registry and looks it up", async (ctx) => {
    const userId = `grpc-${randomUUID()}`;
    const registered = await unary<{ leaseId: string; ttlSeconds: number }>(registry, "Register", {
      userId,
      deviceId: "desktop",
      gatewayNode: "gw-grpc:9000",
    });
    const lookup = await unary<{ devices: DeviceLocation[] }>(registry, "Lookup", { userId });
    if (!implemented(ctx, "Register", registered)) {
      if (implemented(ctx, "Lookup", lookup)) expect(lookup.value.devices).toEqual([]);
      return;
    }
    expect(BigInt(registered.value.leaseId)).toBeGreaterThan(0n);
    expect(registered.value.ttlSeconds).toBeGreaterThan(0);
    expect(lookup.ok && lookup.value.devices).toEqual([
      expect.objectContaining({
        userId,
        deviceId: "desktop",
        gatewayNode: "gw-grpc:9000",
        leaseId: registered.value.leaseId,
      }),
    ]);
  });

  test("follows a Watch stream while a device registers", async (ctx) => {
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
    for (let attempt = 0; attempt < 20 && outcome === undefined; attempt++) {
      const registered = await unary(registry, "Register", {
        userId,
        deviceId: "watch",
        gatewayNode: "gw-grpc:9000",
      });
      if (!implemented(ctx, "Register", registered)) {
        // Nothing to watch for without registrations; the stream itself must still be open or UNIMPLEMENTED.
        outcome = await Promise.race([
          seen,
          new Promise<undefined>((r) => setTimeout(() => r(undefined), 250)),
        ]);
        call.cancel();
        if (outcome !== undefined && "code" in outcome)
          implemented(ctx, "Watch", { ok: false, error: outcome });
        return;
      }
      outcome = await Promise.race([
        seen,
        new Promise<undefined>((r) => setTimeout(() => r(undefined), 250)),
      ]);
    }
    call.cancel();
    if (outcome === undefined) throw new Error("no Watch event within 5 s");
    if ("code" in outcome) {
      implemented(ctx, "Watch", { ok: false, error: outcome });
      return;
    }
    expect(outcome).toMatchObject({ type: "TYPE_PUT", location: { userId, deviceId: "watch" } });
  });

  test("allocates increasing sequence numbers", async (ctx) => {
    const conversation = { groupId: `grpc-${randomUUID()}` };
    const first = await unary<{ first: string; last: string }>(sequence, "Next", { conversation, count: 10 });
    if (!implemented(ctx, "Next", first)) return;
    expect(first.value).toEqual({ first: "1", last: "10" });
    const second = await unary<{ first: string; last: string }>(sequence, "Next", { conversation });
    expect(second.ok && BigInt(second.value.first)).toBeGreaterThan(10n);
  });

  test("gets INVALID_ARGUMENT with the field named in grpc-message for a Next without a conversation", async (ctx) => {
    const answer = await unary(sequence, "Next", {});
    expect(answer.ok).toBe(false);
    if (answer.ok) return;
    if (grpc.status[answer.error.code] === "UNIMPLEMENTED") {
      acceptUnimplemented(ctx, "Next (grpc-js)", answer.error.details);
      return;
    }
    expect(grpc.status[answer.error.code]).toBe("INVALID_ARGUMENT");
    expect(answer.error.details).toMatch(/conversation/);
  });

  test("reads SERVING from the standard grpc.health.v1 service", async (ctx) => {
    const health = await unary<{ status: string }>(registryHealth, "Check", { service: "" });
    if (!implemented(ctx, "Health.Check", health)) return;
    expect(health.value.status).toBe("SERVING");
  });
});
