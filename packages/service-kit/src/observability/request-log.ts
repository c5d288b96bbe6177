import { randomBytes } from "node:crypto";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import type { Logger } from "../logger.js";
import { LogLimiter, type LogLimits } from "./log-limiter.js";

const REQUEST_ID = /^[\w.:-]{1,128}$/;

// A random per-process prefix and a counter: unique across instances, and cheaper than a UUID per call.
const idPrefix = randomBytes(6).toString("base64url");
let idCounter = 0;
const nextRequestId = () => `${idPrefix}-${(idCounter++).toString(36)}`;

/**
 * Per (RPC, code): failures anyone can cause (no token, a bad argument) at most 10 lines a second,
 * server faults far more loosely, so they stay visible while a flood of them still cannot fill a disk.
 */
const defaultLimits: LogLimits = { windowMs: 1_000, linesPerWindow: { warn: 10, error: 100 } };

/**
 * Gives every call a request id (the caller's `X-Request-Id` when it is sane, else a new one),
 * returns it in the response headers and logs the outcome: failures at warn (server faults at
 * error, with their cause), successes only at debug to keep the hot path quiet. Failures are
 * rate-limited per (RPC, code) (see {@link LogLimiter}). Never logs headers or payloads: tokens and
 * user ids stay out of the logs.
 */
export function requestLogInterceptor(logger: Logger, limits = defaultLimits): Interceptor {
  const limiter = new LogLimiter(logger, limits);
  return (next) => async (request) => {
    const offered = request.header.get("x-request-id");
    const requestId = offered !== null && REQUEST_ID.test(offered) ? offered : nextRequestId();
    const started = performance.now();
    try {
      const response = await next(request);
      response.header.set("x-request-id", requestId);
      if (logger.isLevelEnabled("debug")) {
        logger.debug({ requestId, rpc: request.method.name, ms: performance.now() - started }, "call");
      }
      return response;
    } catch (error) {
      const connectError = ConnectError.from(error);
      connectError.metadata.set("x-request-id", requestId);
      const serverFault = connectError.code === Code.Internal || connectError.code === Code.Unknown;
      const rpc = request.method.name;
      const code = Code[connectError.code];
      limiter.write(
        serverFault ? "error" : "warn",
        `${rpc} ${code}`,
        { rpc, code },
        {
          requestId,
          rpc,
          code,
          ms: performance.now() - started,
          ...(serverFault
            ? { err: connectError.cause ?? connectError }
            : { reason: connectError.rawMessage }),
        },
        "call failed",
      );
      throw connectError;
    }
  };
}
