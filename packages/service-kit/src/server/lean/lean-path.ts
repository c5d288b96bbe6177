import type { IncomingHttpHeaders, ServerHttp2Stream } from "node:http2";
import type { DescMethod } from "@bufbuild/protobuf";
import type { ConnectError, ContextValues } from "@connectrpc/connect";
import {
  compressionNegotiate,
  createMethodSerializationLookup,
  validateUniversalHandlerOptions,
} from "@connectrpc/connect/protocol";
import { parseTimeout as parseConnectTimeout } from "@connectrpc/connect/protocol-connect";
import { parseTimeout as parseGrpcTimeout } from "@connectrpc/connect/protocol-grpc";
import { clampDeadlineHeaders } from "../../limits/timer-safe-deadline.js";
import { acceptCompression } from "../rpc-handler.js";
import type { AnswerFormat } from "./answers.js";
import { declaredLength } from "./body.js";
import { LeanCall } from "./lean-call.js";
import type { LeanMethod, LeanShared } from "./shared.js";

/**
 * The lean unary path: a unary gRPC or Connect call over HTTP/2 served straight from its stream (no
 * compatibility request/response objects, no Connect universal handler, no interceptor chain), through
 * the same implementations and the same cross-cutting steps as plain functions (lean-call.ts). It takes
 * only calls it answers exactly as connectNodeAdapter does; every other stream goes to the adapter
 * untouched, and a body it does not take (too long, bad framing, a message that does not decode) is
 * handed to Connect with the bytes already read, so Connect words the refusal.
 */

/** Node's compatibility layer for one stream (the 'stream' listener it installs). */
export type StreamListener = (
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  flags: number,
  rawHeaders: string[],
) => void;

export type Admission = { values: ContextValues } | { refusal: ConnectError } | undefined;

export interface LeanPathOptions extends LeanShared {
  /** Decides a call from its headers, as the adapter does (service-server.ts). */
  admit?: (method: DescMethod, authorization: string | undefined) => Admission;
  maxTimeoutMs: number;
}

type Format = Omit<AnswerFormat, "compression" | "compressMinBytes">;

/** The request content types the lean path takes, and how each is answered. */
const requestFormats: Record<string, Format> = {
  "application/grpc": { protocol: "grpc", binary: true, contentType: "application/grpc+proto" },
  "application/grpc+proto": { protocol: "grpc", binary: true, contentType: "application/grpc+proto" },
  "application/proto": { protocol: "connect", binary: true, contentType: "application/proto" },
  "application/json": { protocol: "connect", binary: false, contentType: "application/json" },
};

/** Every answer format made once: per request content type, plain and per response compression. */
function answerFormats(compressMinBytes: number) {
  const made = new Map<string, { plain: AnswerFormat; compressed: Record<string, AnswerFormat> }>();
  for (const [contentType, format] of Object.entries(requestFormats)) {
    const compressed: Record<string, AnswerFormat> = {};
    for (const compression of acceptCompression) {
      compressed[compression.name] = { ...format, compression, compressMinBytes };
    }
    made.set(contentType, { plain: { ...format, compression: null, compressMinBytes }, compressed });
  }
  return made;
}

function identity(value: string | string[] | undefined): boolean {
  return value === undefined || value === "identity";
}

export function createLeanPath(options: LeanPathOptions) {
  const handlerOptions = validateUniversalHandlerOptions({ readMaxBytes: options.readMaxBytes });
  const methods = new Map<string, LeanMethod>();
  for (const [path, unary] of options.rpc.unaryMethods) {
    const serialization = createMethodSerializationLookup(
      unary.method,
      undefined,
      options.jsonOptions,
      handlerOptions,
    );
    methods.set(path, { ...unary, serialization });
  }
  const formats = answerFormats(handlerOptions.compressMinBytes);
  const shared: LeanShared = options;

  /** Serves the stream when the lean path answers such calls exactly; else the adapter gets it. */
  return function onStream(
    stream: ServerHttp2Stream,
    headers: IncomingHttpHeaders,
    flags: number,
    rawHeaders: string[],
    toAdapter: StreamListener,
  ): void {
    const method = headers[":method"] === "POST" ? methods.get(headers[":path"] ?? "") : undefined;
    const format = method && formats.get(headers["content-type"] ?? "");
    if (
      !method ||
      !format ||
      headers.origin !== undefined ||
      !hasUrlAuthority(headers) ||
      !identity(headers["grpc-encoding"]) ||
      !identity(headers["content-encoding"]) ||
      !identity(headers["connect-content-encoding"])
    ) {
      toAdapter(stream, headers, flags, rawHeaders);
      return;
    }
    const declared = declaredLength(headers);
    if (declared === "invalid") {
      toAdapter(stream, headers, flags, rawHeaders);
      return;
    }
    clampDeadlineHeaders(headers);
    const grpc = format.plain.protocol === "grpc";
    const timeoutHeader = grpc ? headers["grpc-timeout"] : headers["connect-timeout-ms"];
    // A deadline Connect refuses (malformed, above MAX_CALL_TIMEOUT_MS): Connect words the refusal.
    if (Array.isArray(timeoutHeader)) {
      toAdapter(stream, headers, flags, rawHeaders);
      return;
    }
    const timeout = (grpc ? parseGrpcTimeout : parseConnectTimeout)(
      timeoutHeader ?? null,
      options.maxTimeoutMs,
    );
    if (timeout.error) {
      toAdapter(stream, headers, flags, rawHeaders);
      return;
    }
    const accepted = headers[grpc ? "grpc-accept-encoding" : "accept-encoding"];
    const compression =
      accepted === undefined
        ? null
        : compressionNegotiate(
            acceptCompression,
            null,
            Array.isArray(accepted) ? accepted.join(",") : accepted,
            grpc ? "grpc-accept-encoding" : "accept-encoding",
          ).response;
    const admission = options.admit?.(method.method, headerValue(headers.authorization));
    const call = new LeanCall(
      shared,
      stream,
      headers,
      method,
      compression === null ? format.plain : format.compressed[compression.name]!,
      timeout.timeoutMs,
      declared,
      admission && "values" in admission ? admission.values : undefined,
    );
    if (admission && "refusal" in admission) call.refuse(admission.refusal);
    else call.start();
  };
}

/** An authority a URL can be made of (`Host: a:b` cannot): else the adapter answers 400. */
function hasUrlAuthority(headers: IncomingHttpHeaders): boolean {
  const authority = headers[":authority"] ?? headers.host;
  return authority !== undefined && URL.canParse(`http://${authority}`);
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(", ") : value;
}
