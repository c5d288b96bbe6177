import { setMaxListeners } from "node:events";
import type http from "node:http";
import http2 from "node:http2";
import type net from "node:net";
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { type ConnectRouter, createContextValues, type Interceptor } from "@connectrpc/connect";
import { sleep } from "@im-core/common";
import { errorMapper, errorMappingInterceptor } from "../errors.js";
import type { ReadinessCheck } from "../health.js";
import { DefaultCallDeadline, deadlineInterceptor } from "../limits/deadline-interceptor.js";
import { Deadlines } from "../limits/deadlines.js";
import { StalledStreamReaper } from "../limits/stalled-streams.js";
import { streamLimitInterceptor } from "../limits/stream-limit-interceptor.js";
import { clampDeadlineHeaders } from "../limits/timer-safe-deadline.js";
import type { Logger } from "../logger.js";
import { Health, registerHealthService } from "../observability/health-service.js";
import { instanceReadiness } from "../observability/instance-readiness.js";
import { ServiceMetrics } from "../observability/metrics.js";
import { MetricsTextCache } from "../observability/metrics-text-cache.js";
import {
  type CountCall,
  countingProtocolRejections,
  countUnknownMethod,
} from "../observability/protocol-rejections.js";
import { RequestLog, requestLogInterceptor } from "../observability/request-log.js";
import {
  type AccessPolicy,
  authenticate,
  callerKey,
  refusalInterceptor,
} from "../security/auth-interceptor.js";
import { createCors } from "../security/cors.js";
import { defaultLimits, type ServerSettings } from "../settings.js";
import { createLeanPath } from "./lean/lean-path.js";
import { OnePortServer } from "./one-port.js";
import { queryEncodingInterceptor, requestJsonOptions } from "./request-decoding.js";
import { createRpcHandler } from "./rpc-handler.js";

export interface ServiceServerOptions {
  /** The service this server exposes (for the gRPC health service and metrics). */
  service: DescService;
  /**
   * Registers the service's RPCs. `draining` aborts when the drain begins (after SHUTDOWN_DELAY_MS, with
   * the GOAWAYs): long streams end on it, and their clients reconnect elsewhere.
   */
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
  /** Bound of each readiness check (default 1 s). */
  readinessTimeoutMs?: number;
  /** Pause between readiness probes, whose last report `/readyz` and gRPC health answer (default 1 s). */
  readinessRefreshMs?: number;
  /** How long one render of `/metrics` is served to every scrape (default 1 s). */
  metricsMaxAgeMs?: number;
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
 * (Prometheus). Calls pass, outermost first: metrics, request log, error mapping, auth, GET query
 * encoding, deadline, stream limit.
 */
export function createServiceServer(options: ServiceServerOptions): ServiceServer {
  const settings = {
    ...defaultLimits,
    tokens: undefined,
    tls: undefined,
    corsAllowedOrigins: [],
    ...options.settings,
  };
  const metrics = options.metrics ?? new ServiceMetrics(options.service.typeName);
  const draining = new AbortController();
  // Every Watch stream listens on `draining`: many listeners are expected, not a leak.
  setMaxListeners(0, draining.signal);
  /** Aborts at SIGTERM, before `draining`: readiness says so while calls are still served. */
  const stopping = new AbortController();
  const readinessProbe = instanceReadiness(options.readiness, {
    timeoutMs: options.readinessTimeoutMs ?? 1_000,
    refreshMs: options.readinessRefreshMs ?? 1_000,
    draining: stopping.signal,
    logger: options.logger,
    metrics,
  });
  const readiness = () => readinessProbe.report();
  const metricsText = new MetricsTextCache(
    () => metrics.registry.metrics(),
    options.metricsMaxAgeMs ?? 1_000,
  );
  const countCall: CountCall = (method, code) => metrics.countRejectedCall(method, code);

  const { tokens } = settings;
  const openServices = new Set([Health.typeName]);
  const admit = tokens
    ? (method: DescMethod, authorization: string | undefined) => {
        const outcome = authenticate(tokens, options.accessPolicy, openServices, method, authorization);
        return outcome && "caller" in outcome
          ? { values: createContextValues().set(callerKey, outcome.caller) }
          : outcome;
      }
    : undefined;
  // The steps every call takes, as plain functions: the interceptors and the lean path both call them.
  const requestLog = new RequestLog(options.logger);
  const mapError = errorMapper((error) => metrics.noteError(error));
  const defaultDeadline = new DefaultCallDeadline(settings.defaultCallTimeoutMs);
  const interceptors: Interceptor[] = [
    metrics.interceptor(),
    requestLogInterceptor(requestLog),
    errorMappingInterceptor(mapError),
    ...(tokens ? [refusalInterceptor()] : []),
    queryEncodingInterceptor(),
    deadlineInterceptor(defaultDeadline),
    streamLimitInterceptor(settings, (open) => metrics.openStreams.set(open)),
  ];
  // No shutdown signal for Connect to link every call to: a long-lived signal would collect a listener per
  // call. Past the grace period, close() destroys the connections, which aborts every call still running.
  const rpc = createRpcHandler({
    routes: (router) => {
      options.routes(router, { draining: draining.signal });
      registerHealthService(router, {
        services: [options.service.typeName],
        backends: options.readiness.map((check) => check.name),
        isServing: async () => (await readiness()).ready,
        isBackendServing: (name) => readinessProbe.backendServing(name),
      });
    },
    interceptors,
    readMaxBytes: settings.maxRequestBytes,
    maxTimeoutMs: settings.maxCallTimeoutMs,
    // Requests must be UTF-8 and name known enum values: refused, never repaired or dropped.
    jsonOptions: requestJsonOptions,
    ...(admit ? { admit: (method, request) => admit(method, request.headers.authorization) } : {}),
    onAnswer: countingProtocolRejections(countCall),
    onHandlerError: (method, reason) =>
      options.logger.warn({ err: reason, rpc: method.name }, "handler failed after its response started"),
  });
  const stalledStreams = metrics.counter(
    "rpc_streams_reset_stalled_total",
    "Streams reset because their client stopped reading.",
  );
  const leanCalls = metrics.counter(
    "rpc_lean_calls_total",
    "Unary calls answered by the lean path (LEAN_UNARY_PATH); the others went through connectNodeAdapter.",
  );
  const leanPath = settings.leanUnaryPath
    ? createLeanPath({
        rpc,
        metrics,
        requestLog,
        mapError,
        defaultDeadline,
        ...(admit ? { admit } : {}),
        readMaxBytes: settings.maxRequestBytes,
        maxTimeoutMs: settings.maxCallTimeoutMs,
        jsonOptions: requestJsonOptions,
        onServed: () => leanCalls.inc(),
        unreadAnswers: new Deadlines(settings.streamStallTimeoutMs, (stream) => {
          if (stream.closed) return;
          stalledStreams.inc();
          stream.close(http2.constants.NGHTTP2_CANCEL);
        }),
        onWriteError: (rpc, reason) =>
          options.logger.warn({ err: reason, rpc }, "the answer could not be written; the stream was reset"),
      })
    : undefined;
  const applyCors = createCors(settings.corsAllowedOrigins);
  const streamingPaths = new Set(
    options.service.methods
      .filter((method) => method.methodKind !== "unary")
      .map((method) => `/${options.service.typeName}/${method.name}`),
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
      metricsText.text().then(
        (text) => send(response, 200, metrics.registry.contentType, text),
        (error: unknown) => {
          options.logger.error({ err: error }, "collecting metrics failed");
          send(response, 500, "text/plain", "metrics unavailable\n");
        },
      );
    } else {
      if (path !== undefined && streamingPaths.has(path)) reaper.track(response);
      if (rpc.methodAt(path ?? "") === undefined) countUnknownMethod(countCall);
      clampDeadlineHeaders(request.headers);
      rpc.handle(request, response, path ?? "");
    }
  };

  const shedConnections = metrics.counter(
    "connections_shed_total",
    "Connections refused, or idle ones closed for them, to stay within MAX_CONNECTIONS / MAX_CONNECTIONS_PER_PEER.",
  );
  const bodyTimeouts = metrics.counter(
    "requests_body_timeouts_total",
    "Requests cut because their body did not arrive within REQUEST_BODY_TIMEOUT_MS.",
  );
  const server = new OnePortServer(onRequest, {
    headersTimeoutMs: settings.headersTimeoutMs,
    requestBodyTimeoutMs: settings.requestBodyTimeoutMs,
    idleTimeoutMs: 60_000,
    maxStreamsPerConnection: settings.maxStreamsPerConnection,
    connections: {
      maxConnections: settings.maxConnections,
      maxConnectionsPerPeer: settings.maxConnectionsPerPeer,
    },
    onConnectionShed: () => shedConnections.inc(),
    onBodyTimeout: () => bodyTimeouts.inc(),
    ...(settings.tls ? { tls: settings.tls } : {}),
    ...(leanPath ? { onStream: leanPath } : {}),
  });
  metrics.gauge(
    "connections_open",
    "Connections open on this instance (MAX_CONNECTIONS).",
    () => server.connections,
  );

  return {
    metrics,
    listen: (port, host) => server.listen(port, host),
    async close() {
      // Readiness says "draining" first; calls (streams included) keep being served while load balancers
      // catch up. Then streams end together with the GOAWAYs, so their clients reconnect elsewhere.
      stopping.abort();
      readinessProbe.close();
      if (settings.shutdownDelayMs > 0) await sleep(settings.shutdownDelayMs);
      draining.abort();
      try {
        await server.close(settings.shutdownGraceMs);
      } finally {
        reaper.close();
      }
    },
  };
}
