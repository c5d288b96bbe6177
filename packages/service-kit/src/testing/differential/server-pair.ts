import type { DescService } from "@bufbuild/protobuf";
import { RegistryService, SequenceService } from "@im-core/proto";
import { pino } from "pino";
import type { Logger } from "../../logger.js";
import type { AccessPolicy } from "../../security/auth-interceptor.js";
import { parseTokens, TokenTable } from "../../security/tokens.js";
import { createServiceServer, type ServiceServer } from "../../server/service-server.js";
import type { ServerSettings } from "../../settings.js";
import { selfSignedCertificate } from "../tls.js";
import { type HandlerLog, registryHandlers, sequenceHandlers } from "./stand-in-handlers.js";

export const TOKENS = {
  gateway: "gateway-token-0123456789",
  router: "router-token-0123456789",
  admin: "admin-token-0123456789",
} as const;

const tokenTable = new TokenTable(
  parseTokens(
    `${TOKENS.gateway} gateway gw-1\n${TOKENS.router} router\n${TOKENS.admin} admin`,
    "differential tokens",
    /\n/,
  ),
);

export const ACCESS: Record<"registry" | "sequence", AccessPolicy> = {
  registry: {
    GrantLease: ["gateway"],
    Register: ["gateway"],
    BatchRegister: ["gateway"],
    Renew: ["gateway"],
    Unregister: ["gateway"],
    RevokeLease: ["gateway", "admin"],
    Lookup: ["gateway", "router"],
    BatchLookup: ["router"],
    Watch: ["router"],
  },
  sequence: {
    Next: ["gateway"],
    BatchNext: ["gateway"],
    Current: ["gateway", "router"],
    ListSnapshots: ["admin"],
  },
};

/** Small limits, so that every one of them is reachable by a generated request. */
export const LIMITS = {
  maxRequestBytes: 4096,
  maxCallTimeoutMs: 5000,
  defaultCallTimeoutMs: 300,
} as const satisfies Partial<ServerSettings>;

export const ALLOWED_ORIGIN = "https://admin.example.com";

export type ServiceName = "registry" | "sequence";
export const SERVICES: Record<ServiceName, DescService> = {
  registry: RegistryService,
  sequence: SequenceService,
};

/** One server of a pair and what it did: its handlers' calls, its log lines. */
export interface Side {
  readonly name: "reference" | "lean";
  readonly server: ServiceServer;
  readonly url: string;
  readonly handlers: HandlerLog;
  readonly logLines: Record<string, unknown>[];
}

export interface ServerPair {
  readonly service: ServiceName;
  readonly reference: Side;
  readonly lean: Side;
  /** The certificate both servers present when `tls` was asked for (clients trust it as a CA). */
  readonly ca: Buffer | undefined;
  close(): Promise<void>;
}

/** A pino logger like createLogger's, at debug, whose lines are kept as parsed objects. */
function capturingLogger(lines: Record<string, unknown>[]): Logger {
  return pino(
    { name: "differential", level: "debug", base: { service: "differential" } },
    { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) },
  );
}

/**
 * Two servers of `service` from createServiceServer with identical options (tokens, access policy,
 * limits, CORS origin, stand-in handlers) but for `leanUnaryPath`: false for the reference (every call
 * through connectNodeAdapter), true for the lean one.
 */
export async function startServerPair(
  service: ServiceName,
  options: {
    tls?: boolean;
    settings?: Partial<ServerSettings>;
    /** Handlers left out (local names, e.g. "current"): methods the server names but does not implement. */
    unimplemented?: readonly string[];
  } = {},
): Promise<ServerPair> {
  const tls = options.tls ? selfSignedCertificate() : undefined;
  const start = async (name: Side["name"]): Promise<Side> => {
    const handlers: HandlerLog = { calls: [], aborted: [] };
    const logLines: Record<string, unknown>[] = [];
    const server = createServiceServer({
      service: SERVICES[service],
      accessPolicy: ACCESS[service],
      logger: capturingLogger(logLines),
      readiness: [],
      settings: {
        ...LIMITS,
        tokens: tokenTable,
        corsAllowedOrigins: [ALLOWED_ORIGIN],
        shutdownGraceMs: 500,
        ...(tls ? { tls } : {}),
        ...options.settings,
        leanUnaryPath: name === "lean",
      },
      routes: (router) => {
        const omit = <T extends object>(impl: T): T =>
          Object.fromEntries(
            Object.entries(impl).filter(([name]) => !options.unimplemented?.includes(name)),
          ) as T;
        if (service === "registry") router.service(RegistryService, omit(registryHandlers(handlers)));
        else router.service(SequenceService, omit(sequenceHandlers(handlers)));
      },
    });
    const { port } = await server.listen(0, "127.0.0.1");
    return { name, server, url: `${tls ? "https" : "http"}://127.0.0.1:${port}`, handlers, logLines };
  };
  const [reference, lean] = await Promise.all([start("reference"), start("lean")]);
  return {
    service,
    reference,
    lean,
    ca: tls?.cert,
    close: async () => {
      await Promise.all([reference.server.close(), lean.server.close()]);
    },
  };
}

/** Counters and histogram counts a call leaves behind, by series ("name{label=value,...}"). */
export async function sideEffectCounts(side: Side): Promise<Map<string, number>> {
  const { metrics } = side.server;
  const counts = new Map<string, number>();
  const add = (name: string, labels: Record<string, unknown>, value: number) => {
    const { service: _service, ...own } = labels;
    const key = `${name}{${Object.entries(own)
      .map(([k, v]) => `${k}=${String(v)}`)
      .sort()
      .join(",")}}`;
    counts.set(key, (counts.get(key) ?? 0) + value);
  };
  for (const value of (await metrics.calls.get()).values) add("rpc_calls_total", value.labels, value.value);
  for (const value of (await metrics.backendErrors.get()).values)
    add("backend_errors_total", value.labels, value.value);
  for (const value of (await metrics.latency.get()).values) {
    if (value.metricName === "rpc_duration_seconds_count")
      add("rpc_duration_seconds_count", value.labels, value.value);
  }
  return counts;
}

/** What changed between two {@link sideEffectCounts}, zero changes left out. */
export function countDelta(before: Map<string, number>, after: Map<string, number>): Record<string, number> {
  const delta: Record<string, number> = {};
  for (const [key, value] of after) {
    const change = value - (before.get(key) ?? 0);
    if (change !== 0) delta[key] = change;
  }
  return delta;
}

/**
 * Calls the lean path served so far (`rpc_lean_calls_total`, all labels), or undefined while the
 * server has no such counter (the lean path is not there).
 */
export async function leanCalls(side: Side): Promise<number | undefined> {
  const metric = side.server.metrics.registry.getSingleMetric("rpc_lean_calls_total");
  if (metric === undefined) return undefined;
  const { values } = await metric.get();
  return values.reduce((sum, value) => sum + value.value, 0);
}
