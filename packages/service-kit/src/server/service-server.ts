import { setMaxListeners } from "node:events";
import type http from "node:http";
import type http2 from "node:http2";
import type net from "node:net";
import type { DescService } from "@bufbuild/protobuf";
import type { ConnectRouter, Interceptor } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { errorMappingInterceptor } from "../errors.js";
import { checkReadiness, type ReadinessCheck } from "../health.js";
import { deadlineInterceptor } from "../limits/deadline-interceptor.js";
import { StalledStreamReaper } from "../limits/stalled-streams.js";
import { streamLimitInterceptor } from "../limits/stream-limit-interceptor.js";
import type { Logger } from "../logger.js";
import { Health, registerHealthService } from "../observability/health-service.js";
import { ServiceMetrics } from "../observability/metrics.js";
import { requestLogInterceptor } from "../observability/request-log.js";
import { type AccessPolicy, authInterceptor } from "../security/auth-interceptor.js";
import { createCors } from "../security/cors.js";
import { defaultLimits, type ServerSettings } from "../settings.js";
import { OnePortServer } from "./one-port.js";

export interface ServiceServerOptions {
  /** The service this server exposes (for the gRPC health service and metrics). */
  service: DescService;
  /** Registers the service's RPCs. `draining` aborts when shutdown begins: long streams end on it. */
  routes: (router: ConnectRouter, lifecycle: { draining: AbortSignal }) => void;
  /** Backends that must answer for `/readyz` and gRPC health to report serving. */
  readiness: readonly ReadinessCheck[];
  logger: Logger;
  /** Which roles may call which method; enforced whenever `settings.tokens` is set. */
  accessPolicy: AccessPolicy;
  /** From `loadServerSettings()`; tests may omit it to get open access and default limits. */
  settings?: Partial<ServerSettings>;
  /** Metrics registry the app adds its own gauges to; one is made when omitted. */
  metrics?: ServiceMetrics;
  readinessTimeoutMs?: number;
}

export interface ServiceServer {
  readonly metrics: ServiceMetrics;
  listen(port: number, host: string): Promise<net.AddressInfo>;
  /** Graceful stop: readiness turns false, streams are told to end, in-flight calls finish. */
  close(): Promise<void>;
}

type Request = http.IncomingMessage | http2.Http2ServerRequest;
type Response = http.ServerResponse | http2.Http2ServerResponse;

function send(response: Response, status: number, contentType: string, body: string): void {
  (response as http.ServerResponse).writeHead(status, {
    "content-type": contentType,
    "cache-control": "no-store",
  });
  response.end(body);
}

/**
 * Builds the HTTP server of one service: Connect, gRPC and gRPC-Web on one port, the standard gRPC
 * health service, `GET /healthz` (alive), `GET /readyz` (backends answer) and `GET /metrics`
 * (Prometheus). Calls pass, outermost first: metrics, request log, error mapping, auth, deadline,
 * stream limit.
 */
export function createServiceServer(options: ServiceServerOptions): ServiceServer {
  const settings = {
    ...defaultLimits,
    tokens: undefined,
    tls: undefined,
    corsAllowedOrigins: [],
    ...options.settings,
  };
  const readinessTimeoutMs = options.readinessTimeoutMs ?? 1_000;
  const metrics = options.metrics ?? new ServiceMetrics(options.service.typeName);
  const draining = new AbortController();
  const hardStop = new AbortController();
  // Every call in flight listens on these (Connect links each handler's signal to the shutdown
  // signal; each Watch stream to draining): many listeners are expected, not a leak.
  setMaxListeners(0, draining.signal, hardStop.signal);
  const readiness = () =>
    draining.signal.aborted
      ? Promise.resolve({ ready: false, checks: {}, draining: true })
      : checkReadiness(options.readiness, readinessTimeoutMs);

  const interceptors: Interceptor[] = [
    metrics.interceptor(),
    requestLogInterceptor(options.logger),
    errorMappingInterceptor((error) => metrics.noteError(error)),
    ...(settings.tokens ? [authInterceptor(settings.tokens, options.accessPolicy, [Health])] : []),
    deadlineInterceptor(settings.defaultCallTimeoutMs),
    streamLimitInterceptor(settings.maxStreams, (open) => metrics.openStreams.set(open)),
  ];
  const rpc = connectNodeAdapter({
    routes: (router) => {
      options.routes(router, { draining: draining.signal });
      registerHealthService(router, [options.service.typeName], async () => (await readiness()).ready);
    },
    interceptors,
    shutdownSignal: hardStop.signal,
    readMaxBytes: settings.maxRequestBytes,
    maxTimeoutMs: settings.maxCallTimeoutMs,
  });
  const applyCors = createCors(settings.corsAllowedOrigins);
  const streamingPaths = new Set(
    options.service.methods
      .filter((method) => method.methodKind !== "unary")
      .map((method) => `/${options.service.typeName}/${method.name}`),
  );
  const stalledStreams = metrics.counter(
    "rpc_streams_reset_stalled_total",
    "Streams reset because their client stopped reading.",
  );
  const reaper = new StalledStreamReaper(settings.streamStallTimeoutMs, () => stalledStreams.inc());

  const onRequest = (request: Request, response: Response): void => {
    if (applyCors(request, response)) {
      return;
    }
    const path = request.url?.split("?")[0];
    if (request.method === "GET" && path === "/healthz") {
      send(response, 200, "application/json", JSON.stringify({ status: "alive" }));
    } else if (request.method === "GET" && path === "/readyz") {
      readiness().then(
        (report) => send(response, report.ready ? 200 : 503, "application/json", JSON.stringify(report)),
        (error: unknown) => {
          options.logger.error({ err: error }, "readiness check failed");
          send(response, 500, "application/json", JSON.stringify({ ready: false }));
        },
      );
    } else if (request.method === "GET" && path === "/metrics") {
      metrics.registry.metrics().then(
        (text) => send(response, 200, metrics.registry.contentType, text),
        (error: unknown) => {
          options.logger.error({ err: error }, "collecting metrics failed");
          send(response, 500, "text/plain", "metrics unavailable\n");
        },
      );
    } else {
      if (path !== undefined && streamingPaths.has(path)) reaper.track(response);
      rpc(request, response);
    }
  };

  const server = new OnePortServer(onRequest, {
    firstBytesTimeoutMs: 10_000,
    idleTimeoutMs: 60_000,
    ...(settings.tls ? { tls: settings.tls } : {}),
  });

  return {
    metrics,
    listen: (port, host) => server.listen(port, host),
    async close() {
      draining.abort();
      const cutOff = setTimeout(() => hardStop.abort(), settings.shutdownGraceMs);
      try {
        await server.close(settings.shutdownGraceMs + 1_000);
      } finally {
        clearTimeout(cutOff);
        reaper.close();
      }
    },
  };
}
