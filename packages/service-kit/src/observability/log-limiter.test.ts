import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { sleep } from "@im-core/common";
import { RegistryService } from "@im-core/proto";
import { describe, expect, it } from "vitest";
import type { Logger } from "../logger.js";
import { LogLimiter } from "./log-limiter.js";
import { RequestLog, requestLogInterceptor } from "./request-log.js";

/** A logger keeping what would be written: level, fields and message of each line. */
function recordingLogger() {
  const lines: { level: string; fields: Record<string, unknown>; message: string }[] = [];
  const at = (level: string) => (fields: Record<string, unknown>, message: string) => {
    lines.push({ level, fields, message });
  };
  const logger = { warn: at("warn"), error: at("error"), isLevelEnabled: () => false };
  return { lines, logger: logger as unknown as Logger };
}

describe("LogLimiter", () => {
  it("writes a few lines per key and window, then one line saying how many it suppressed", async () => {
    const { lines, logger } = recordingLogger();
    const limiter = new LogLimiter(logger, { windowMs: 100, linesPerWindow: { warn: 3, error: 50 } });
    for (let i = 0; i < 1_000; i += 1)
      limiter.write("warn", "Lookup Unauthenticated", { rpc: "Lookup" }, { i }, "call failed");
    limiter.write("warn", "Lookup InvalidArgument", { rpc: "Lookup" }, {}, "call failed");
    expect(lines).toHaveLength(4);
    await sleep(150);
    expect(lines).toHaveLength(5);
    expect(lines[4]).toEqual({
      level: "warn",
      fields: { rpc: "Lookup", suppressed: 997, windowMs: 100 },
      message: "suppressed 997 similar warnings",
    });
    // A new window writes again.
    limiter.write("warn", "Lookup Unauthenticated", { rpc: "Lookup" }, {}, "call failed");
    expect(lines).toHaveLength(6);
  });

  it("limits server faults far more loosely", () => {
    const { lines, logger } = recordingLogger();
    const limiter = new LogLimiter(logger, { windowMs: 1_000, linesPerWindow: { warn: 3, error: 50 } });
    for (let i = 0; i < 100; i += 1) limiter.write("error", "Lookup Internal", {}, {}, "call failed");
    expect(lines).toHaveLength(50);
  });
});

describe("the request log under a flood of failing calls", () => {
  it("logs at most 10 warnings a second per RPC and code, and sums up the rest", async () => {
    const { lines, logger } = recordingLogger();
    const transport = createRouterTransport(
      (router) =>
        router.service(RegistryService, {
          lookup: () => {
            throw new ConnectError("no token", Code.Unauthenticated);
          },
        }),
      { router: { interceptors: [requestLogInterceptor(new RequestLog(logger))] } },
    );
    const client = createClient(RegistryService, transport);
    const calls = await Promise.allSettled(Array.from({ length: 500 }, () => client.lookup({ userId: "u" })));
    expect(calls.every((call) => call.status === "rejected")).toBe(true);
    expect(lines).toHaveLength(10);
    expect(lines[0]?.fields).toMatchObject({ rpc: "Lookup", code: "Unauthenticated", reason: "no token" });
    await expect
      .poll(() => lines.at(-1)?.message, { timeout: 2_000 })
      .toBe("suppressed 490 similar warnings");
  });
});
