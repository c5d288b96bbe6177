import http2 from "node:http2";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { sleep } from "@im-core/common";
import { LookupRequestSchema, RegistryService, SequenceService } from "@im-core/proto";
import { rawGrpcCall } from "@im-core/testkit";
import { describe, expect, it } from "vitest";
import { flood } from "./testing/flood.js";
import { abuseStack } from "./testing/stack.js";

const stack = abuseStack();
const CALLS = { concurrency: 50, durationMs: 10_000, maxRequests: 3_000 }; // per service

const lineCount = (text: string) => text.split("\n").filter((line) => line.trim() !== "").length;
const codeOf = (error: unknown) => Code[ConnectError.from(error).code];

/** One raw gRPC Lookup on `session` with the given `grpc-timeout`; resolves with its grpc-status. */
function lookupWithTimeout(session: http2.ClientHttp2Session, grpcTimeout: string): Promise<string> {
  const message = toBinary(LookupRequestSchema, create(LookupRequestSchema, { userId: "u" }));
  return rawGrpcCall(session, "/im.registry.v1.RegistryService/Lookup", message, {
    "grpc-timeout": grpcTimeout,
  });
}

describe("floods of calls that fail", () => {
  it("calls without a token leave a bounded number of log lines, saying how many were suppressed", async () => {
    const { registry, sequence } = stack.servers;
    const attacker = {
      registry: createClient(RegistryService, createGrpcTransport({ baseUrl: registry.url })),
      sequence: createClient(SequenceService, createGrpcTransport({ baseUrl: sequence.url })),
    };
    const conversation = { kind: { case: "groupId" as const, value: "log-flood" } };
    const linesBefore = { registry: lineCount(registry.output()), sequence: lineCount(sequence.output()) };

    const [registryFlood, sequenceFlood] = await Promise.all([
      flood(CALLS, () => attacker.registry.lookup({ userId: "u" }).then(() => "ok", codeOf)),
      flood(CALLS, () => attacker.sequence.next({ conversation }).then(() => "ok", codeOf)),
    ]);
    // Summaries are written when a window (1 s) ends.
    await sleep(2_500);
    const added = {
      registry: lineCount(registry.output()) - linesBefore.registry,
      sequence: lineCount(sequence.output()) - linesBefore.sequence,
    };
    const suppressed = (output: string) =>
      [...output.matchAll(/"suppressed":(\d+)/g)].reduce((sum, match) => sum + Number(match[1]), 0);

    console.log(
      `calls without a token: registry ${registryFlood.sent} Lookups ${JSON.stringify(registryFlood.byStatus)} ` +
        `in ${registryFlood.elapsedMs.toFixed(0)} ms → ${added.registry} log lines (${suppressed(registry.output())} suppressed); ` +
        `sequence ${sequenceFlood.sent} Nexts ${JSON.stringify(sequenceFlood.byStatus)} ` +
        `in ${sequenceFlood.elapsedMs.toFixed(0)} ms → ${added.sequence} log lines (${suppressed(sequence.output())} suppressed)`,
    );

    for (const [result, lines, output] of [
      [registryFlood, added.registry, registry.output()],
      [sequenceFlood, added.sequence, sequence.output()],
    ] as const) {
      expect(result.byStatus.Unauthenticated).toBe(result.sent);
      // A handful of lines per second of flood (10 s at most), not one per call.
      expect(lines).toBeLessThan(300);
      expect(output).toMatch(/suppressed \d+ similar warnings/);
      expect(lines + suppressed(output)).toBeGreaterThanOrEqual(result.sent);
    }
  });

  it("a grpc-timeout beyond what a timer holds is refused (INVALID_ARGUMENT) without a warning per call", async () => {
    const { registry } = stack.servers;
    const linesBefore = lineCount(registry.output());
    const session = http2.connect(registry.url);
    try {
      const statuses = await Promise.all(
        Array.from({ length: 200 }, (_, i) => lookupWithTimeout(session, i % 2 ? "99999999H" : "2147484S")),
      );
      expect(new Set(statuses)).toEqual(new Set([String(Code.InvalidArgument)]));
    } finally {
      session.close();
    }
    await sleep(500);
    const output = registry.output();
    const added = lineCount(output) - linesBefore;
    console.log(`200 calls with grpc-timeout ≥ 2^31 ms → ${added} log lines`);
    expect(output).not.toContain("TimeoutOverflowWarning");
    expect(added).toBeLessThan(50);
  });
});
