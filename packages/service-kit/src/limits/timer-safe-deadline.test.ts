import http2 from "node:http2";
import { create, toBinary } from "@bufbuild/protobuf";
import { LookupRequestSchema } from "@im-core/proto";
import { rawGrpcCall } from "@im-core/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ObservedServer, startObservedServer } from "../testing/observed-server.js";
import { clampDeadlineHeaders, grpcTimeoutMs } from "./timer-safe-deadline.js";

describe("clampDeadlineHeaders", () => {
  it("reads grpc-timeout values in every unit", () => {
    expect(grpcTimeoutMs("250m")).toBe(250);
    expect(grpcTimeoutMs("3S")).toBe(3_000);
    expect(grpcTimeoutMs("2M")).toBe(120_000);
    expect(grpcTimeoutMs("1H")).toBe(3_600_000);
    expect(grpcTimeoutMs("5000u")).toBe(5);
    expect(grpcTimeoutMs("123456789m")).toBeNaN(); // 9 digits: not a grpc-timeout
    expect(grpcTimeoutMs("soon")).toBeNaN();
  });

  it("lowers only deadlines a timer cannot hold, to the longest it can", () => {
    const header = { "grpc-timeout": "99999999H", "connect-timeout-ms": "9999999999" };
    clampDeadlineHeaders(header);
    expect(header["grpc-timeout"]).toBe("2147483S");
    expect(header["connect-timeout-ms"]).toBe("2147483647");
    const kept = { "grpc-timeout": "596H", "connect-timeout-ms": "2147483647" };
    clampDeadlineHeaders(kept);
    expect([kept["grpc-timeout"], kept["connect-timeout-ms"]]).toEqual(["596H", "2147483647"]);
    const invalid = { "grpc-timeout": "forever" };
    clampDeadlineHeaders(invalid);
    expect(invalid["grpc-timeout"]).toBe("forever");
  });
});

/** The grpc-status of one raw gRPC Lookup sent with `grpcTimeout`. */
function grpcLookup(session: http2.ClientHttp2Session, grpcTimeout: string): Promise<string> {
  const message = toBinary(LookupRequestSchema, create(LookupRequestSchema, { userId: "u" }));
  return rawGrpcCall(session, "/im.registry.v1.RegistryService/Lookup", message, {
    "grpc-timeout": grpcTimeout,
  });
}

describe("a client deadline beyond what a timer holds", () => {
  let observed: ObservedServer;
  const warnings: Error[] = [];
  const onWarning = (warning: Error) => warnings.push(warning);
  beforeAll(async () => {
    observed = await startObservedServer();
    process.on("warning", onWarning);
  });
  afterAll(async () => {
    process.off("warning", onWarning);
    await observed.server.close();
  });

  it("is refused with INVALID_ARGUMENT over gRPC and Connect, without a TimeoutOverflowWarning", async () => {
    const session = http2.connect(observed.baseUrl);
    try {
      for (const grpcTimeout of ["99999999H", "2147484S", "99999999M"]) {
        expect(await grpcLookup(session, grpcTimeout)).toBe("3");
      }
    } finally {
      session.close();
    }
    const response = await fetch(`${observed.baseUrl}/im.registry.v1.RegistryService/Lookup`, {
      method: "POST",
      headers: { "content-type": "application/json", "connect-timeout-ms": "9999999999" },
      body: "{}",
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ code: "invalid_argument" });
    // Warnings are emitted on the next tick.
    await new Promise((resolve) => setImmediate(resolve));
    expect(warnings.map((warning) => warning.name)).not.toContain("TimeoutOverflowWarning");
  });
});
