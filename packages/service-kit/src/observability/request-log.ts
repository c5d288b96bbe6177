import { randomBytes } from "node:crypto";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import type { Logger } from "../logger.js";

const REQUEST_ID = /^[\w.:-]{1,128}$/;

// A random per-process prefix and a counter: unique across instances, and cheaper than a UUID per call.
const idPrefix = randomBytes(6).toString("base64url");
let idCounter = 0;
const nextRequestId = () => `${idPrefix}-${(idCounter++).toString(36)}`;

/**
 * Gives every call a request id (the caller's `X-Request-Id` when it is sane, else a new one),
 * returns it in the response headers and logs the outcome: failures at warn (server faults at
 * error, with their cause), successes only at debug to keep the hot path quiet. Never logs
 * headers or payloads: tokens and user ids stay out of the logs.
 */
export function requestLogInterceptor(logger: Logger): Interceptor {
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
      logger[serverFault ? "error" : "warn"](
        {
          requestId,
          rpc: request.method.name,
          code: Code[connectError.code],
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
