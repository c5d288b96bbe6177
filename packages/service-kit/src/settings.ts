import { readFileSync } from "node:fs";
import { z } from "zod";
import { ConfigError, envInt, parseEnv } from "./config.js";
import { parseTokens, readTokenFile, TokenTable } from "./security/tokens.js";

/** Settings every service server shares: who may call, TLS, browsers, and limits. */
export interface ServerSettings {
  /** `undefined` only when auth was explicitly disabled (AUTH_DISABLED=true). */
  tokens: TokenTable | undefined;
  tls: { cert: Buffer; key: Buffer } | undefined;
  corsAllowedOrigins: readonly string[];
  maxRequestBytes: number;
  defaultCallTimeoutMs: number;
  maxCallTimeoutMs: number;
  maxStreams: number;
  /** Streams open at once for one caller's token. */
  maxStreamsPerToken: number;
  /** A stream whose client has not read for this long is reset. */
  streamStallTimeoutMs: number;
  shutdownGraceMs: number;
  /**
   * After SIGTERM, how long the instance keeps taking new connections and calls while its readiness
   * already says it is draining: time for load balancers to stop sending to it.
   */
  shutdownDelayMs: number;
  /** Streams one HTTP/2 connection may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS). */
  maxStreamsPerConnection: number;
  /** Connections open at once on this instance, and from one peer address. */
  maxConnections: number;
  maxConnectionsPerPeer: number;
  /** Time for a connection's first bytes, a TLS handshake, and each HTTP/1.1 request's headers. */
  headersTimeoutMs: number;
  /** Time for a request's whole body, from its headers on. */
  requestBodyTimeoutMs: number;
  /**
   * Unary gRPC and Connect calls over HTTP/2 served straight from the HTTP/2 stream (server/lean/);
   * false sends every call through connectNodeAdapter (LEAN_UNARY_PATH=false).
   */
  leanUnaryPath: boolean;
}

/** Limits without any security, for tests that build servers directly. */
export const defaultLimits = {
  maxRequestBytes: 1024 * 1024,
  defaultCallTimeoutMs: 10_000,
  maxCallTimeoutMs: 600_000,
  maxStreams: 1_000,
  maxStreamsPerToken: 100,
  streamStallTimeoutMs: 30_000,
  shutdownGraceMs: 10_000,
  shutdownDelayMs: 0,
  maxStreamsPerConnection: 256,
  maxConnections: 10_000,
  maxConnectionsPerPeer: 1_000,
  headersTimeoutMs: 10_000,
  requestBodyTimeoutMs: 30_000,
  leanUnaryPath: true,
} as const;

function readFile(name: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new ConfigError(
      `invalid configuration:\n  ${name}: cannot read ${file} (${(error as Error).message})`,
    );
  }
}

/**
 * Reads the shared server variables. Secure by default: without AUTH_TOKENS or AUTH_TOKENS_FILE the
 * service refuses to start unless AUTH_DISABLED=true says, on purpose, that anyone may call it.
 */
export function loadServerSettings(env: NodeJS.ProcessEnv = process.env): ServerSettings {
  const vars = parseEnv(
    {
      AUTH_TOKENS: z.string().optional(),
      AUTH_TOKENS_FILE: z.string().optional(),
      AUTH_DISABLED: z.enum(["true", "false"], { error: "must be true or false" }).default("false"),
      TLS_CERT_FILE: z.string().optional(),
      TLS_KEY_FILE: z.string().optional(),
      CORS_ALLOWED_ORIGINS: z.string().default(""),
      MAX_REQUEST_BYTES: envInt(defaultLimits.maxRequestBytes, 1024, 64 * 1024 * 1024),
      DEFAULT_CALL_TIMEOUT_MS: envInt(defaultLimits.defaultCallTimeoutMs, 1, 3_600_000),
      MAX_CALL_TIMEOUT_MS: envInt(defaultLimits.maxCallTimeoutMs, 1, 86_400_000),
      MAX_WATCH_STREAMS: envInt(defaultLimits.maxStreams, 1, 1_000_000),
      MAX_WATCH_STREAMS_PER_TOKEN: envInt(defaultLimits.maxStreamsPerToken, 1, 1_000_000),
      STREAM_STALL_TIMEOUT_MS: envInt(defaultLimits.streamStallTimeoutMs, 100, 3_600_000),
      SHUTDOWN_GRACE_MS: envInt(defaultLimits.shutdownGraceMs, 0, 600_000),
      SHUTDOWN_DELAY_MS: envInt(defaultLimits.shutdownDelayMs, 0, 600_000),
      MAX_STREAMS_PER_CONNECTION: envInt(defaultLimits.maxStreamsPerConnection, 1, 100_000),
      MAX_CONNECTIONS: envInt(defaultLimits.maxConnections, 1, 1_000_000),
      MAX_CONNECTIONS_PER_PEER: envInt(defaultLimits.maxConnectionsPerPeer, 1, 1_000_000),
      HEADERS_TIMEOUT_MS: envInt(defaultLimits.headersTimeoutMs, 100, 600_000),
      REQUEST_BODY_TIMEOUT_MS: envInt(defaultLimits.requestBodyTimeoutMs, 100, 3_600_000),
      LEAN_UNARY_PATH: z.enum(["true", "false"], { error: "must be true or false" }).default("true"),
    },
    env,
  );

  const entries = [
    ...(vars.AUTH_TOKENS ? parseTokens(vars.AUTH_TOKENS, "AUTH_TOKENS") : []),
    ...(vars.AUTH_TOKENS_FILE ? readTokenFile(vars.AUTH_TOKENS_FILE) : []),
  ];
  const authDisabled = vars.AUTH_DISABLED === "true";
  if (authDisabled && entries.length > 0) {
    throw new ConfigError(
      "invalid configuration:\n  AUTH_DISABLED: is true but tokens are configured too; choose one",
    );
  }
  if (!authDisabled && entries.length === 0) {
    throw new ConfigError(
      "invalid configuration:\n  AUTH_TOKENS: no tokens configured; set AUTH_TOKENS or AUTH_TOKENS_FILE, or AUTH_DISABLED=true to let anyone call (local development only)",
    );
  }
  if ((vars.TLS_CERT_FILE === undefined) !== (vars.TLS_KEY_FILE === undefined)) {
    throw new ConfigError(
      "invalid configuration:\n  TLS_CERT_FILE: TLS needs both TLS_CERT_FILE and TLS_KEY_FILE",
    );
  }
  if (vars.DEFAULT_CALL_TIMEOUT_MS > vars.MAX_CALL_TIMEOUT_MS) {
    throw new ConfigError(
      "invalid configuration:\n  DEFAULT_CALL_TIMEOUT_MS: must not exceed MAX_CALL_TIMEOUT_MS",
    );
  }
  const origins = vars.CORS_ALLOWED_ORIGINS.split(",")
    .map((origin) => origin.trim())
    .filter((origin) => origin !== "");
  for (const origin of origins) {
    if (origin !== "*" && !(URL.canParse(origin) && new URL(origin).origin === origin)) {
      throw new ConfigError(
        `invalid configuration:\n  CORS_ALLOWED_ORIGINS: "${origin}" is not an origin like https://admin.example.com`,
      );
    }
  }
  return {
    tokens: authDisabled ? undefined : new TokenTable(entries),
    tls:
      vars.TLS_CERT_FILE && vars.TLS_KEY_FILE
        ? {
            cert: readFile("TLS_CERT_FILE", vars.TLS_CERT_FILE),
            key: readFile("TLS_KEY_FILE", vars.TLS_KEY_FILE),
          }
        : undefined,
    corsAllowedOrigins: origins,
    maxRequestBytes: vars.MAX_REQUEST_BYTES,
    defaultCallTimeoutMs: vars.DEFAULT_CALL_TIMEOUT_MS,
    maxCallTimeoutMs: vars.MAX_CALL_TIMEOUT_MS,
    maxStreams: vars.MAX_WATCH_STREAMS,
    maxStreamsPerToken: vars.MAX_WATCH_STREAMS_PER_TOKEN,
    streamStallTimeoutMs: vars.STREAM_STALL_TIMEOUT_MS,
    shutdownGraceMs: vars.SHUTDOWN_GRACE_MS,
    shutdownDelayMs: vars.SHUTDOWN_DELAY_MS,
    maxStreamsPerConnection: vars.MAX_STREAMS_PER_CONNECTION,
    maxConnections: vars.MAX_CONNECTIONS,
    maxConnectionsPerPeer: vars.MAX_CONNECTIONS_PER_PEER,
    headersTimeoutMs: vars.HEADERS_TIMEOUT_MS,
    leanUnaryPath: vars.LEAN_UNARY_PATH === "true",
    requestBodyTimeoutMs: vars.REQUEST_BODY_TIMEOUT_MS,
  };
}
