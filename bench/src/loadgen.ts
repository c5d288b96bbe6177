import { connect } from "node:http2";
import { Code, ConnectError } from "@connectrpc/connect";
import { type WireProtocol, wireHeaders } from "./bodies.js";
import { percentiles } from "./stats.js";

export interface LoadResult {
  requests: number;
  ok: number;
  /** Failed calls by Connect code name ("Unimplemented", "InvalidArgument", ...). */
  errors: Record<string, number>;
  firstError?: string;
  seconds: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
}

export interface Limit {
  /** Stop after this many calls (all workers together). */
  requests?: number;
  /** Stop starting calls after this long. */
  durationMs?: number;
  /** Stop starting calls once this answers true (e.g. a load measured while another one runs). */
  until?: () => boolean;
}

/**
 * Closed loop: `concurrency` workers each call `call(i)` back to back until the limit is reached.
 * `call` resolves to undefined on success or to an error description `{ code, message }`.
 */
export async function closedLoop(
  concurrency: number,
  limit: Limit,
  call: (i: number) => Promise<{ code: string; message: string } | undefined>,
): Promise<LoadResult> {
  const maxRequests = limit.requests ?? Number.POSITIVE_INFINITY;
  const started = performance.now();
  const deadline = limit.durationMs === undefined ? Number.POSITIVE_INFINITY : started + limit.durationMs;
  const latencies: number[] = [];
  const errors: Record<string, number> = {};
  let firstError: string | undefined;
  let next = 0;
  let ok = 0;
  const worker = async () => {
    for (;;) {
      if (next >= maxRequests || performance.now() >= deadline || limit.until?.()) return;
      const i = next++;
      const t0 = performance.now();
      let failure: { code: string; message: string } | undefined;
      try {
        failure = await call(i);
      } catch (error) {
        const e = ConnectError.from(error);
        failure = { code: Code[e.code], message: e.rawMessage };
      }
      latencies.push(performance.now() - t0);
      if (failure) {
        errors[failure.code] = (errors[failure.code] ?? 0) + 1;
        firstError ??= `${failure.code}: ${failure.message}`;
      } else ok++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - started) / 1000;
  const { p50, p99 } = percentiles(latencies);
  return {
    requests: latencies.length,
    ok,
    errors,
    ...(firstError ? { firstError } : {}),
    seconds,
    rps: latencies.length / seconds,
    p50Ms: p50,
    p99Ms: p99,
  };
}

/**
 * A lean HTTP/2 load generator for cases h2load cannot express (a different body per request): one
 * connection, `concurrency` streams, pre-encoded bodies used round-robin, every answer checked
 * (gRPC status in trailers, Connect HTTP status + error code).
 */
export async function rawLoad(opts: {
  baseUrl: string;
  path: string;
  protocol: WireProtocol;
  bodies: readonly Buffer[];
  concurrency: number;
  limit: Limit;
}): Promise<LoadResult> {
  const session = connect(opts.baseUrl);
  await new Promise<void>((resolve, reject) => {
    session.once("connect", () => resolve());
    session.once("error", reject);
  });
  const headers = { ":method": "POST", ":path": opts.path, ...wireHeaders(opts.protocol, opts.path) };
  try {
    return await closedLoop(opts.concurrency, opts.limit, (i) => {
      const body = opts.bodies[i % opts.bodies.length]!;
      return new Promise((resolve, reject) => {
        const stream = session.request(headers);
        let status = 0;
        let grpcStatus: string | undefined;
        let grpcMessage: string | undefined;
        const chunks: Buffer[] = [];
        stream.on("response", (h) => {
          status = Number(h[":status"]);
          if (h["grpc-status"] !== undefined) grpcStatus = String(h["grpc-status"]);
          if (h["grpc-message"] !== undefined) grpcMessage = String(h["grpc-message"]);
        });
        stream.on("trailers", (t) => {
          if (t["grpc-status"] !== undefined) grpcStatus = String(t["grpc-status"]);
          if (t["grpc-message"] !== undefined) grpcMessage = String(t["grpc-message"]);
        });
        stream.on("data", (chunk: Buffer) => chunks.push(chunk));
        stream.on("error", reject);
        stream.on("close", () => {
          if (opts.protocol === "grpc") {
            if (grpcStatus === "0") resolve(undefined);
            else
              resolve({
                code: grpcStatus === undefined ? `http ${status}` : (Code[Number(grpcStatus)] ?? grpcStatus),
                message: decodeURIComponent(grpcMessage ?? ""),
              });
          } else if (status === 200) resolve(undefined);
          else {
            let code = `http ${status}`;
            let message = "";
            try {
              const parsed = JSON.parse(Buffer.concat(chunks).toString("utf8")) as {
                code?: string;
                message?: string;
              };
              code = connectCodeName(parsed.code) ?? code;
              message = parsed.message ?? "";
            } catch {}
            resolve({ code, message });
          }
        });
        stream.end(body);
      });
    });
  } finally {
    session.close();
  }
}

/** "unimplemented" → "Unimplemented" (the Code enum's key). */
function connectCodeName(code: string | undefined): string | undefined {
  if (!code) return undefined;
  const camel = code.replace(/(^|_)(\w)/g, (_, __, c: string) => c.toUpperCase());
  return camel in Code ? camel : code;
}
