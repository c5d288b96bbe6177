import type { IncomingHttpHeaders, ServerHttp2Stream } from "node:http2";
import type { TLSSocket } from "node:tls";
import { create, type DescMessage, isMessage } from "@bufbuild/protobuf";
import { Code, ConnectError, type ContextValues, createContextValues } from "@connectrpc/connect";
import type {
  createMethodSerializationLookup,
  MethodSerializationLookup,
} from "@connectrpc/connect/protocol";
import type { DefaultCallDeadline, OverdueCall } from "../../limits/deadline-interceptor.js";
import type { ServiceMetrics } from "../../observability/metrics.js";
import type { RequestLog } from "../../observability/request-log.js";
import type { RpcCall, RpcHandler, UnaryImplementation } from "../rpc-handler.js";
import { type AnswerFormat, answerError, answerMessage, answerUniversal } from "./answers.js";
import { decodeRequest, headThenRest, resetError } from "./body.js";
import { LeanHandlerContext, webHeaders } from "./handler-context.js";

/** What every lean call of a server shares: the cross-cutting steps the interceptors also take. */
export interface LeanShared {
  readonly rpc: RpcHandler;
  readonly metrics: ServiceMetrics;
  readonly requestLog: RequestLog;
  /** Store errors and aborts to codes (errors.ts). */
  readonly mapError: (error: unknown) => ConnectError;
  readonly defaultDeadline: DefaultCallDeadline;
  readonly readMaxBytes: number;
  /** A body this long cannot be one message within the limit. */
  readonly maxBodyBytes: number;
  /** Connect's JSON options of the router (request-decoding.ts): read and write alike. */
  readonly jsonOptions: Parameters<typeof createMethodSerializationLookup>[2];
  readonly onServed: () => void;
}

export interface LeanMethod extends UnaryImplementation {
  readonly serialization: MethodSerializationLookup<DescMessage, DescMessage>;
}

const callOf = Symbol("lean call");
type CallStream = ServerHttp2Stream & { [callOf]?: LeanCall };

// One listener function for every stream (the call hangs on the stream), not closures per call.
function onData(this: CallStream, chunk: Buffer): void {
  this[callOf]?.received(chunk);
}
function onEnd(this: CallStream): void {
  this[callOf]?.ended();
}
function onClose(this: CallStream): void {
  this[callOf]?.closed();
}
/** Errors of a stream are the adapter's or nobody's: a reset client needs no answer. */
function ignore(): void {}
function abortAtDeadline(context: LeanHandlerContext): void {
  context.abort(new ConnectError("the operation timed out", Code.DeadlineExceeded));
}
function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | undefined)?.then === "function";
}
const callFinished = new DOMException("This operation was aborted", "AbortError");

/**
 * One unary call on the lean path: its body read, its implementation run through the steps Connect's
 * interceptors take (outermost first: metrics, request log, error mapping, refusal, default deadline),
 * its answer written. Everything it holds is here, in one object per call.
 */
export class LeanCall implements OverdueCall {
  #chunks: Buffer[] = [];
  #size = 0;
  #phase: "reading" | "running" | "done" = "reading";
  #context: LeanHandlerContext | undefined;
  #deadlineTimer: NodeJS.Timeout | undefined;
  #started = 0;
  #requestId = "";

  constructor(
    private readonly shared: LeanShared,
    private readonly stream: CallStream,
    private readonly headers: IncomingHttpHeaders,
    private readonly method: LeanMethod,
    private readonly format: AnswerFormat,
    /** The client's deadline (Connect's parse of its header), if it set one. */
    private readonly timeoutMs: number | undefined,
    /** The caller's admission (callerKey), or undefined when auth is off or the service is open. */
    private readonly values: ContextValues | undefined,
  ) {
    stream[callOf] = this;
    stream.on("error", ignore);
    // `on`, not `once`: `once` wraps each listener in a new closure; these are removed when done.
    stream.on("close", onClose);
  }

  /** Reads the body, then runs the call. */
  start(): void {
    this.stream.on("data", onData);
    this.stream.on("end", onEnd);
  }

  /** Answers a call refused on its headers: its body is never read. */
  refuse(refusal: ConnectError): void {
    this.#run(undefined, refusal);
  }

  received(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#size += chunk.byteLength;
    if (this.#size <= this.shared.maxBodyBytes) return;
    // Too long for the lean path: Connect reads on from here and words the refusal.
    this.stream.pause();
    this.#stopReading();
    this.#toConnect(headThenRest(this.#chunks, this.stream));
  }

  ended(): void {
    this.#stopReading();
    const body = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks, this.#size);
    const grpc = this.format.protocol === "grpc";
    const { serialization } = this.method;
    const input = decodeRequest(
      serialization,
      this.format.binary,
      grpc,
      this.headers,
      body,
      this.shared.readMaxBytes,
    );
    if (input === undefined) this.#toConnect([body]);
    else this.#run(input, undefined);
  }

  closed(): void {
    if (this.#phase === "reading") {
      // Reset before its body arrived: counted as the adapter counts it; nothing else to do.
      this.#phase = "done";
      this.shared.metrics.countRejectedCall(this.method.method.name, Code.Canceled);
    } else if (this.#phase === "running") {
      this.#context?.abort(resetError(this.stream.rstCode));
    }
  }

  /** The default deadline passed (DEFAULT_CALL_TIMEOUT_MS): answered now, the work's outcome ignored. */
  expire(error: ConnectError): void {
    this.#fail(error);
  }

  #stopReading(): void {
    this.stream.off("data", onData);
    this.stream.off("end", onEnd);
  }

  #run(input: unknown, refusal: ConnectError | undefined): void {
    this.#phase = "running";
    const { stream, headers, shared } = this;
    const context = new LeanHandlerContext(
      this.method.method,
      this.format.protocol,
      this.values,
      headers,
      (stream.session?.socket as TLSSocket | undefined)?.encrypted === true,
      this.timeoutMs,
    );
    this.#context = context;
    if (this.timeoutMs !== undefined) {
      this.#deadlineTimer = setTimeout(abortAtDeadline, Math.max(this.timeoutMs, 0), context);
    }
    this.#started = performance.now();
    const offered = headers["x-request-id"];
    this.#requestId = shared.requestLog.requestId(Array.isArray(offered) ? offered.join(", ") : offered);
    if (refusal) {
      this.#fail(refusal);
      return;
    }
    // Our default deadline steps aside for either protocol's deadline header, as the interceptor does.
    if (headers["grpc-timeout"] === undefined && headers["connect-timeout-ms"] === undefined) {
      shared.defaultDeadline.track(this);
    }
    let result: unknown;
    try {
      result = this.method.impl(input, context);
    } catch (error) {
      this.#fail(error);
      return;
    }
    if (isThenable(result)) {
      result.then(
        (output) => this.#succeed(output),
        (error: unknown) => this.#fail(error),
      );
    } else {
      this.#succeed(result);
    }
  }

  /** Ends the run once (the answer or the default deadline, whichever comes first). */
  #finish(): LeanHandlerContext | undefined {
    if (this.#phase !== "running") return undefined;
    this.#phase = "done";
    clearTimeout(this.#deadlineTimer);
    this.shared.defaultDeadline.forget(this);
    this.stream.off("close", onClose);
    this.shared.onServed();
    return this.#context;
  }

  #succeed(output: unknown): void {
    const context = this.#finish();
    if (!context) return;
    const { shared, method } = this;
    shared.requestLog.succeeded(method.method.name, this.#requestId, this.#started);
    shared.metrics.recordCall(method.method.name, this.#started, undefined);
    context.abort(callFinished);
    const handler = { header: context.touchedResponseHeader, trailer: context.touchedResponseTrailer };
    let message: Uint8Array;
    try {
      const normalized = isMessage(output, method.method.output)
        ? output
        : create(method.method.output, output as never);
      message = method.serialization.getO(this.format.binary).serialize(normalized);
    } catch (error) {
      const failure = ConnectError.from(error, Code.Internal);
      void answerError(this.stream, this.format, handler, failure, shared.jsonOptions);
      return;
    }
    void answerMessage(this.stream, this.format, handler, this.#requestId, message);
  }

  #fail(error: unknown): void {
    const context = this.#finish();
    if (!context) return;
    const { shared } = this;
    const rpc = this.method.method.name;
    const failure = shared.requestLog.failed(rpc, this.#requestId, this.#started, shared.mapError(error));
    shared.metrics.recordCall(rpc, this.#started, failure);
    context.abort(failure);
    const handler = { header: context.touchedResponseHeader, trailer: context.touchedResponseTrailer };
    void answerError(this.stream, this.format, handler, failure, shared.jsonOptions);
  }

  /** Connect answers a body the lean path does not take: the bytes read so far are its request body. */
  #toConnect(body: AsyncIterable<Uint8Array> | Uint8Array[]): void {
    this.#phase = "done";
    const { stream, headers } = this;
    const controller = new AbortController();
    const abortOnReset = () => controller.abort(resetError(stream.rstCode));
    stream.off("close", onClose);
    stream.once("close", abortOnReset);
    const encrypted = (stream.session?.socket as TLSSocket | undefined)?.encrypted === true;
    const authority = headers[":authority"] ?? headers.host;
    const call: RpcCall = {
      httpVersion: "2.0",
      method: "POST",
      url: new URL(headers[":path"] ?? "", `${encrypted ? "https" : "http"}://${authority}`).toString(),
      header: webHeaders(headers),
      body: Array.isArray(body)
        ? (async function* () {
            yield* body;
          })()
        : body,
      signal: controller.signal,
      contextValues: this.values ?? createContextValues(),
    };
    const answering = this.shared.rpc.answer(headers[":path"] ?? "", call);
    void answering
      ?.then((answer) => answerUniversal(stream, answer))
      .catch(() => {})
      .finally(() => stream.off("close", abortOnReset));
  }
}
