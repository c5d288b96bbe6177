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
 * user ids stay out of the logs. Both request paths call it: Connect's through
 * {@link requestLogInterceptor}, the lean path directly.
 */
export class RequestLog {
  readonly #logger: Logger;
  readonly #limiter: LogLimiter;

  constructor(logger: Logger, limits = defaultLimits) {
    this.#logger = logger;
    this.#limiter = new LogLimiter(logger, limits);
  }

  /** The call's request id: the one offered when it is sane, else a new one. */
  requestId(offered: string | null | undefined): string {
    return offered != null && REQUEST_ID.test(offered) ? offered : nextRequestId();
  }

  succeeded(rpc: string, requestId: string, started: number): void {
    if (this.#logger.isLevelEnabled("debug")) {
      this.#logger.debug({ requestId, rpc, ms: performance.now() - started }, "call");
    }
  }

  /** Logs the failure (rate-limited) and returns it as a ConnectError carrying the request id. */
  failed(rpc: string, requestId: string, started: number, error: unknown): ConnectError {
    const connectError = ConnectError.from(error);
    connectError.metadata.set("x-request-id", requestId);
    const serverFault = connectError.code === Code.Internal || connectError.code === Code.Unknown;
    const code = Code[connectError.code];
    this.#limiter.write(
      serverFault ? "error" : "warn",
      `${rpc} ${code}`,
      { rpc, code },
      {
        requestId,
        rpc,
        code,
        ms: performance.now() - started,
        ...(serverFault ? { err: connectError.cause ?? connectError } : { reason: connectError.rawMessage }),
      },
      "call failed",
    );
    return connectError;
  }
}

/** The {@link RequestLog} of Connect's calls. */
export function requestLogInterceptor(log: RequestLog): Interceptor {
  return (next) => async (request) => {
    const requestId = log.requestId(request.header.get("x-request-id"));
    const started = performance.now();
    try {
      const response = await next(request);
      response.header.set("x-request-id", requestId);
      log.succeeded(request.method.name, requestId, started);
      return response;
    } catch (error) {
      throw log.failed(request.method.name, requestId, started, error);
    }
  };
}
