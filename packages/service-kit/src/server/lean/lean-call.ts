import type { IncomingHttpHeaders, ServerHttp2Stream } from "node:http2";
import { create, isMessage } from "@bufbuild/protobuf";
import { Code, ConnectError, type ContextValues } from "@connectrpc/connect";
import type { OverdueCall } from "../../limits/deadline-interceptor.js";
import { bodyCut, type CutStream } from "../one-port.js";
import {
  type AnswerFormat,
  answerError,
  answerMessage,
  failedAnswer,
  type HandlerMetadata,
} from "./answers.js";
import { headThenRest, RequestBody, resetError } from "./body.js";
import { abortAtDeadline, callFinished, LeanHandlerContext } from "./handler-context.js";
import type { LeanMethod, LeanShared } from "./shared.js";
import { answerByConnect } from "./to-connect.js";

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
/** A stream's errors (a client's reset) end its call through 'close'; unheard, they would crash the process. */
function ignore(): void {}
function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | undefined)?.then === "function";
}

/**
 * One unary call on the lean path: its body read, its implementation run through the steps Connect's
 * interceptors take (outermost first: metrics, request log, error mapping, refusal, default deadline),
 * its answer written. Everything it holds is here, in one object per call.
 */
export class LeanCall implements OverdueCall {
  readonly #body: RequestBody;
  #phase: "reading" | "running" | "done" = "reading";
  #context: LeanHandlerContext | undefined;
  #deadlineTimer: NodeJS.Timeout | undefined;
  #started = 0;
  #requestId = "";
  /** A Connect request's `content-length` (lean-path.ts takes only numeric ones). */
  readonly #declared: number | undefined;
  /** The client's deadline (Date.now() ms), counted from the headers as Connect counts it. */
  readonly #deadline: number | undefined;

  constructor(
    private readonly shared: LeanShared,
    private readonly stream: CallStream,
    private readonly headers: IncomingHttpHeaders,
    private readonly method: LeanMethod,
    private readonly format: AnswerFormat,
    /** The client's deadline (Connect's parse of its header), if it set one. */
    private readonly timeoutMs: number | undefined,
    /** A Connect request's `content-length`, as lean-path.ts read it (it takes only numeric ones). */
    declared: number | undefined,
    /** The caller's admission (callerKey), or undefined when auth is off or the service is open. */
    private readonly values: ContextValues | undefined,
  ) {
    this.#deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
    this.#declared = declared;
    this.#body = new RequestBody(
      format.protocol === "grpc",
      format.binary,
      method.serialization,
      shared.readMaxBytes,
      this.#declared,
    );
    stream[callOf] = this;
    stream.on("error", ignore);
    // `on`, not `once`: `once` wraps each listener in a new closure; these are removed when done.
    stream.on("close", onClose);
  }

  /** Reads the body, then runs the call. */
  start(): void {
    if (
      this.format.protocol === "connect" &&
      this.#declared !== undefined &&
      this.#declared > this.shared.readMaxBytes
    ) {
      this.#toConnect([]); // Connect refuses a declared length over the limit before reading
      return;
    }
    this.stream.on("data", onData);
    this.stream.on("end", onEnd);
  }

  /** Answers a call refused on its headers: its body is never read. */
  refuse(refusal: ConnectError): void {
    this.#run(undefined, refusal);
  }

  received(chunk: Buffer): void {
    if (this.#body.add(chunk)) return;
    // Connect reads on from the bytes read so far, and words the refusal when it would have.
    this.stream.pause();
    this.#stopReading();
    this.#toConnect(headThenRest(this.#body.chunks, this.stream));
  }

  ended(): void {
    this.#stopReading();
    if ((this.stream as CutStream)[bodyCut]) {
      this.#cut();
      return;
    }
    const input = this.#body.message();
    if (input === undefined) this.#toConnect([this.#body.whole()]);
    else this.#run(input, undefined);
  }

  /**
   * Cut at REQUEST_BODY_TIMEOUT_MS (Node ends the readable side as it closes the stream): no call, and
   * counted with the code Connect's adapter reports for such a call.
   */
  #cut(): void {
    this.#phase = "done";
    const code = this.format.protocol === "grpc" ? Code.Internal : Code.Canceled;
    this.shared.metrics.countRejectedCall(this.method.method.name, code);
  }

  closed(): void {
    if (this.#phase === "done") {
      this.shared.unreadAnswers.forget(this.stream);
    } else if (this.#phase === "reading" && (this.stream as CutStream)[bodyCut]) {
      this.#cut();
    } else if (this.#phase === "reading") {
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
    const deadline = this.#deadline;
    const context = new LeanHandlerContext(
      this.method.method,
      this.format.protocol,
      this.values,
      stream,
      headers,
      deadline,
    );
    this.#context = context;
    if (deadline !== undefined) {
      // Counted from the headers: a body that trickled in has used up part of it, as on Connect's path.
      const left = deadline - Date.now();
      if (left <= 0) abortAtDeadline(context);
      else this.#deadlineTimer = setTimeout(abortAtDeadline, left, context);
    }
    this.#started = performance.now();
    // HTTP/2 headers are strings, but set-cookie.
    this.#requestId = shared.requestLog.requestId(headers["x-request-id"] as string | undefined);
    if (refusal) {
      this.#fail(refusal);
      return;
    }
    // Without a deadline of the client's own protocol, the server's default one (as the interceptor).
    if (this.timeoutMs === undefined) shared.defaultDeadline.track(this);
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
      // As on Connect's path, the answer keeps the headers the call had by then, the request id too.
      const header = new Headers(handler.header);
      header.set("x-request-id", this.#requestId);
      this.#answerError({ header, trailer: handler.trailer }, ConnectError.from(error, Code.Internal));
      return;
    }
    this.#answer(() => answerMessage(this.stream, this.format, handler, this.#requestId, message));
  }

  #fail(error: unknown): void {
    const context = this.#finish();
    if (!context) return;
    const { shared } = this;
    const rpc = this.method.method.name;
    const failure = shared.requestLog.failed(rpc, this.#requestId, this.#started, shared.mapError(error));
    shared.metrics.recordCall(rpc, this.#started, failure);
    context.abort(failure);
    this.#answerError(
      { header: context.touchedResponseHeader, trailer: context.touchedResponseTrailer },
      failure,
    );
  }

  #answerError(handler: HandlerMetadata, error: ConnectError): void {
    this.#answer(() => answerError(this.stream, this.format, handler, error, this.shared.jsonOptions));
  }

  /** Writes an answer (at once, or after compressing it); one that cannot be written resets the stream. */
  #answer(write: () => Promise<void> | undefined): void {
    let writing: Promise<void> | undefined;
    try {
      writing = write();
    } catch (reason) {
      this.#writeFailed(reason);
      return;
    }
    if (writing === undefined) this.#written();
    else
      writing.then(
        () => this.#written(),
        (reason: unknown) => this.#writeFailed(reason),
      );
  }

  /** The answer is handed to the stream: its client has STREAM_STALL_TIMEOUT_MS to take it. */
  #written(): void {
    if (!this.stream.closed) this.shared.unreadAnswers.track(this.stream);
  }

  #writeFailed(reason: unknown): void {
    failedAnswer(this.stream, reason, (cause) => this.shared.onWriteError(this.method.method.name, cause));
  }

  /** Connect answers a body the lean path does not take: the bytes read so far start its request body. */
  #toConnect(body: AsyncIterable<Uint8Array> | readonly Uint8Array[]): void {
    this.#phase = "done";
    this.stream.off("close", onClose);
    answerByConnect(this.shared.rpc, this.stream, this.headers, this.values, body, (reason) =>
      this.shared.onWriteError(this.method.method.name, reason),
    );
  }
}
