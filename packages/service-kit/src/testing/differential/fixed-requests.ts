import type { WireRequest } from "./raw-client.js";
import { encodeRequest, envelope, gzip, targetsOf } from "./request-model.js";
import { type ServiceName, TOKENS } from "./server-pair.js";

export interface CallOptions {
  /** Default application/grpc. */
  contentType?: string;
  /** Default the gateway's; null for none. */
  token?: string | null;
  httpMethod?: string;
  query?: string;
  headers?: Record<string, string>;
  /** gzip-compresses the message and says so in the protocol's encoding header. */
  gzipped?: boolean;
}

/** A well-formed call of `service`'s `method` (a path of it, e.g. "Lookup") carrying `directive`. */
export function callOf(
  service: ServiceName,
  method: string,
  directive: string,
  options: CallOptions = {},
): WireRequest {
  const target = targetsOf(service).find((candidate) => candidate.path.endsWith(`/${method}`));
  if (!target) throw new Error(`no method ${method} in ${service}`);
  const contentType = options.contentType ?? "application/grpc";
  const enveloped = /^application\/(grpc|connect\+)/i.test(contentType);
  let message = encodeRequest(target, directive, /json/i.test(contentType));
  if (options.gzipped) message = gzip(message);
  const body = enveloped ? envelope(message, options.gzipped ? 1 : 0) : message;
  const token = options.token === undefined ? TOKENS.gateway : options.token;
  const encodingHeader = !options.gzipped
    ? undefined
    : !enveloped
      ? "content-encoding"
      : contentType.startsWith("application/connect+")
        ? "connect-content-encoding"
        : "grpc-encoding";
  return {
    method: options.httpMethod ?? "POST",
    path: target.path + (options.query ?? ""),
    headers: {
      "content-type": contentType,
      ...(contentType.startsWith("application/grpc") ? { te: "trailers" } : {}),
      ...(token === null ? {} : { authorization: `Bearer ${token}` }),
      ...(encodingHeader ? { [encodingHeader]: "gzip" } : {}),
      ...options.headers,
    },
    body,
  };
}

/** The code an answer carries: gRPC's status, Connect's error code, or "ok"/the HTTP status. */
export function codeOf(answer: {
  status: number | undefined;
  headers: Record<string, string>;
  trailers: Record<string, string>;
  body: Buffer;
}): string {
  const grpc = answer.trailers["grpc-status"] ?? answer.headers["grpc-status"];
  if (grpc !== undefined) return `grpc ${grpc}`;
  if (answer.status === 200) return "ok";
  try {
    return String((JSON.parse(answer.body.toString()) as { code: unknown }).code);
  } catch {
    return `http ${answer.status}`;
  }
}
