import type http from "node:http";
import type http2 from "node:http2";
import type net from "node:net";
import type { ConnectRouter, Interceptor } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { errorMappingInterceptor } from "../errors.js";
import { checkReadiness, type ReadinessCheck } from "../health.js";
import type { Logger } from "../logger.js";
import { OnePortServer } from "./one-port.js";

export interface ServiceServerOptions {
  /** Registers the service's RPCs. `draining` aborts when shutdown begins: long streams end on it. */
  routes: (router: ConnectRouter, lifecycle: { draining: AbortSignal }) => void;
  /** Backends that must answer for `/readyz` to report ready. */
  readiness: readonly ReadinessCheck[];
  logger: Logger;
  interceptors?: readonly Interceptor[];
  /** How long a shutdown waits for in-flight calls before cutting connections. */
  shutdownGraceMs?: number;
  readinessTimeoutMs?: number;
}

export interface ServiceServer {
  listen(port: number, host: string): Promise<net.AddressInfo>;
  /** Graceful stop: readiness turns false, streams are told to end, in-flight calls finish. */
  close(): Promise<void>;
}

type Request = http.IncomingMessage | http2.Http2ServerRequest;
type Response = http.ServerResponse | http2.Http2ServerResponse;

function sendJson(response: Response, status: number, body: unknown): void {
  const payload = JSON.stringify(body);
  (response as http.ServerResponse).writeHead(status, {
    "content-type": "application/json",
    "cache-control": "no-store",
  });
  response.end(payload);
}

/**
 * Builds the HTTP server of one service: Connect, gRPC and gRPC-Web on one port, plus
 * `GET /healthz` (the process is alive) and `GET /readyz` (its backends answer).
 */
export function createServiceServer(options: ServiceServerOptions): ServiceServer {
  const graceMs = options.shutdownGraceMs ?? 10_000;
  const readinessTimeoutMs = options.readinessTimeoutMs ?? 1_000;
  const draining = new AbortController();
  const hardStop = new AbortController();

  const rpc = connectNodeAdapter({
    routes: (router) => options.routes(router, { draining: draining.signal }),
    interceptors: [errorMappingInterceptor, ...(options.interceptors ?? [])],
    shutdownSignal: hardStop.signal,
  });

  const onRequest = (request: Request, response: Response): void => {
    const path = request.url?.split("?")[0];
    if (request.method === "GET" && path === "/healthz") {
      sendJson(response, 200, { status: "alive" });
      return;
    }
    if (request.method === "GET" && path === "/readyz") {
      if (draining.signal.aborted) {
        sendJson(response, 503, { ready: false, checks: {}, draining: true });
        return;
      }
      checkReadiness(options.readiness, readinessTimeoutMs).then(
        (report) => sendJson(response, report.ready ? 200 : 503, report),
        (error: unknown) => {
          options.logger.error({ err: error }, "readiness check failed");
          sendJson(response, 500, { ready: false });
        },
      );
      return;
    }
    rpc(request, response);
  };

  const server = new OnePortServer(onRequest, { firstBytesTimeoutMs: 10_000, idleTimeoutMs: 60_000 });

  return {
    listen: (port, host) => server.listen(port, host),
    async close() {
      draining.abort();
      const cutOff = setTimeout(() => hardStop.abort(), graceMs);
      try {
        await server.close(graceMs + 1_000);
      } finally {
        clearTimeout(cutOff);
      }
    },
  };
}
