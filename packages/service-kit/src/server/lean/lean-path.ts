import type { IncomingHttpHeaders, ServerHttp2Stream } from "node:http2";
import type { TLSSocket } from "node:tls";
import { create, type DescMessage, type DescMethod, isMessage } from "@bufbuild/protobuf";
import { Code, ConnectError, type ContextValues, createContextValues } from "@connectrpc/connect";
import {
  compressionNegotiate,
  createMethodSerializationLookup,
  type MethodSerializationLookup,
  validateUniversalHandlerOptions,
} from "@connectrpc/connect/protocol";
import { parseTimeout as parseConnectTimeout } from "@connectrpc/connect/protocol-connect";
import { parseTimeout as parseGrpcTimeout } from "@connectrpc/connect/protocol-grpc";
import { clampDeadlineHeaders } from "../../limits/timer-safe-deadline.js";
import type { RpcCall, RpcHandler, UnaryImplementation } from "../rpc-handler.js";
import { acceptCompression } from "../rpc-handler.js";
import { type AnswerFormat, answerError, answerMessage, answerUniversal } from "./answers.js";
import { decodeRequest, headThenRest, readBody, resetError } from "./body.js";
import { LeanHandlerContext, webHeaders } from "./handler-context.js";
import { runUnary, type UnarySteps } from "./unary-steps.js";

/**
 * The lean unary path: a unary gRPC or Connect call over HTTP/2 served straight from its stream (no
 * compatibility request/response objects, no Connect universal handler, no interceptor chain), through
 * the same implementations and the same cross-cutting steps (unary-steps.ts). It takes only what it
 * answers exactly like connectNodeAdapter; the rest goes to the adapter untouched (see `leanFormat`),
 * and a body it cannot take (too big, bad framing, a message that does not decode) is handed to
 * Connect with the bytes already read, so Connect words the refusal.
 */

/** Node's compatibility layer for one stream (the 'stream' listener it installs), or ours. */
export type StreamListener = (
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  flags: number,
  rawHeaders: string[],
) => void;

export interface LeanPathOptions {
  rpc: RpcHandler;
  steps: UnarySteps;
  /** Decides a call from its headers, as the adapter does (service-server.ts). */
  admit?: (method: DescMethod, authorization: string | undefined) => Admission;
  readMaxBytes: number;
  maxTimeoutMs: number;
  jsonOptions: Parameters<typeof createMethodSerializationLookup>[2];
  /** Told of every call the lean path answered itself (`rpc_lean_calls_total`). */
  onServed: () => void;
}

export type Admission = { values: ContextValues } | { refusal: ConnectError } | undefined;

interface LeanMethod extends UnaryImplementation {
  readonly serialization: MethodSerializationLookup<DescMessage, DescMessage>;
}

const formats: Record<string, { protocol: "grpc" | "connect"; binary: boolean; answer: string }> = {
  "application/grpc": { protocol: "grpc", binary: true, answer: "application/grpc+proto" },
  "application/grpc+proto": { protocol: "grpc", binary: true, answer: "application/grpc+proto" },
  "application/proto": { protocol: "connect", binary: true, answer: "application/proto" },
  "application/json": { protocol: "connect", binary: false, answer: "application/json" },
};

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
  const { compressMinBytes } = handlerOptions;
  // A body this long cannot be one message within the limit (5 bytes: a gRPC envelope's prefix).
  const maxBodyBytes = options.readMaxBytes + 5;

  /** Takes the stream when the lean path answers such calls exactly; else the adapter gets it. */
  return function onStream(
    stream: ServerHttp2Stream,
    headers: IncomingHttpHeaders,
    flags: number,
    rawHeaders: string[],
    toAdapter: StreamListener,
  ): void {
    const method = headers[":method"] === "POST" ? methods.get(headers[":path"] ?? "") : undefined;
    const kind = method && formats[headers["content-type"] ?? ""];
    if (
      !method ||
      !kind ||
      headers.origin !== undefined ||
      (headers[":authority"] ?? headers.host) === undefined ||
      !identity(headers["grpc-encoding"]) ||
      !identity(headers["content-encoding"]) ||
      !identity(headers["connect-content-encoding"])
    ) {
      toAdapter(stream, headers, flags, rawHeaders);
      return;
    }
    clampDeadlineHeaders(headers);
    const grpc = kind.protocol === "grpc";
    const timeoutHeader = grpc ? headers["grpc-timeout"] : headers["connect-timeout-ms"];
    const timeout = (grpc ? parseGrpcTimeout : parseConnectTimeout)(
      typeof timeoutHeader === "string" ? timeoutHeader : null,
      options.maxTimeoutMs,
    );
    // Connect words a bad deadline; our default deadline steps aside for either protocol's header.
    if (timeout.error || Array.isArray(timeoutHeader)) {
      toAdapter(stream, headers, flags, rawHeaders);
      return;
    }
    const accepted = headers[grpc ? "grpc-accept-encoding" : "accept-encoding"];
    const format: AnswerFormat = {
      protocol: kind.protocol,
      contentType: kind.answer,
      compression: compressionNegotiate(
        acceptCompression,
        null,
        typeof accepted === "string" ? accepted : null,
        grpc ? "grpc-accept-encoding" : "accept-encoding",
      ).response,
      compressMinBytes,
    };
    const admission = options.admit?.(method.method, headerValue(headers.authorization));
    if (admission && "refusal" in admission) {
      stream.on("error", ignore);
      void serve(
        stream,
        headers,
        method,
        kind.binary,
        format,
        timeout.timeoutMs,
        undefined,
        admission.refusal,
      );
      return;
    }
    const values = admission?.values ?? createContextValues();
    stream.on("error", ignore);
    readBody(
      stream,
      maxBodyBytes,
      (body) => {
        const input =
          "whole" in body
            ? decodeRequest(
                method.serialization,
                kind.binary,
                grpc,
                headers,
                body.whole,
                options.readMaxBytes,
              )
            : undefined;
        if (input === undefined) {
          const rest = "whole" in body ? [body.whole] : headThenRest(body.head, stream);
          void answerByConnect(stream, headers, values, rest);
          return;
        }
        void serve(stream, headers, method, kind.binary, format, timeout.timeoutMs, values, undefined, input);
      },
      // Reset before its body arrived: counted as the adapter counts it, nothing else to do.
      () => options.steps.metrics.countRejectedCall(method.method.name, Code.Canceled),
    );
  };

  async function serve(
    stream: ServerHttp2Stream,
    headers: IncomingHttpHeaders,
    method: LeanMethod,
    binary: boolean,
    format: AnswerFormat,
    timeoutMs: number | undefined,
    values: ContextValues | undefined,
    refusal: ConnectError | undefined,
    input?: unknown,
  ): Promise<void> {
    const controller = new AbortController();
    const deadline =
      timeoutMs === undefined ? undefined : setTimeout(abortAtDeadline, Math.max(timeoutMs, 0), controller);
    const abortOnReset = () => controller.abort(resetError(stream.rstCode));
    stream.once("close", abortOnReset);
    const context = new LeanHandlerContext(
      method.method,
      format.protocol,
      controller.signal,
      values ?? createContextValues(),
      headers,
      (stream.session?.socket as TLSSocket | undefined)?.encrypted === true,
      timeoutMs,
    );
    const outcome = await runUnary(
      options.steps,
      method.method.name,
      headerValue(headers["x-request-id"]),
      headers["grpc-timeout"] !== undefined || headers["connect-timeout-ms"] !== undefined,
      refusal,
      () => method.impl(input, context),
    );
    clearTimeout(deadline);
    stream.off("close", abortOnReset);
    controller.abort(outcome.error ?? callFinished);
    options.onServed();
    const metadata = { header: context.touchedResponseHeader, trailer: context.touchedResponseTrailer };
    if (outcome.error) {
      await answerError(stream, format, metadata, outcome.error, options.jsonOptions);
      return;
    }
    let message: Uint8Array;
    try {
      const output = outcome.output;
      const normalized = isMessage(output, method.method.output)
        ? output
        : create(method.method.output, output as never);
      message = method.serialization.getO(binary).serialize(normalized);
    } catch (error) {
      await answerError(
        stream,
        format,
        metadata,
        ConnectError.from(error, Code.Internal),
        options.jsonOptions,
      );
      return;
    }
    await answerMessage(stream, format, metadata, outcome.requestId, message);
  }

  /** Connect answers a body the lean path does not take: the bytes read so far are its request body. */
  async function answerByConnect(
    stream: ServerHttp2Stream,
    headers: IncomingHttpHeaders,
    contextValues: ContextValues,
    body: AsyncIterable<Uint8Array> | Uint8Array[],
  ): Promise<void> {
    const controller = new AbortController();
    const abortOnReset = () => controller.abort(resetError(stream.rstCode));
    stream.once("close", abortOnReset);
    const encrypted = (stream.session?.socket as TLSSocket | undefined)?.encrypted === true;
    const call: RpcCall = {
      httpVersion: "2.0",
      method: "POST",
      url: new URL(
        headers[":path"] ?? "",
        `${encrypted ? "https" : "http"}://${headers[":authority"] ?? headers.host}`,
      ).toString(),
      header: webHeaders(headers),
      body: Array.isArray(body)
        ? (async function* () {
            yield* body;
          })()
        : body,
      signal: controller.signal,
      contextValues,
    };
    try {
      const answer = await options.rpc.answer(headers[":path"] ?? "", call);
      if (answer) await answerUniversal(stream, answer);
    } finally {
      stream.off("close", abortOnReset);
    }
  }
}

const callFinished = new DOMException("This operation was aborted", "AbortError");

function abortAtDeadline(controller: AbortController): void {
  controller.abort(new ConnectError("the operation timed out", Code.DeadlineExceeded));
}

/** Errors of a stream are the adapter's or nobody's: a reset client needs no answer. */
function ignore(): void {}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(", ") : value;
}
