import type { IncomingHttpHeaders, ServerHttp2Stream } from "node:http2";
import type { TLSSocket } from "node:tls";
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  type ContextValues,
  createContextValues,
  type HandlerContext,
} from "@connectrpc/connect";

const notAborted = Symbol("not aborted");

/** The reason a call's signal aborts with when it ends (as our patch of Connect does: one, not one per call). */
export const callFinished = new DOMException("This operation was aborted", "AbortError");

/** What Connect's deadline signal aborts with (createDeadlineSignal). */
export function abortAtDeadline(context: LeanHandlerContext): void {
  context.abort(new ConnectError("the operation timed out", Code.DeadlineExceeded));
}

/**
 * The context a lean call's implementation gets: what Connect's `createHandlerContext` gives, with the
 * signal and the header objects made only when a handler asks for them (a Lookup answered from the
 * mirror reads neither; an AbortController was ~5 % of such a call's CPU).
 */
export class LeanHandlerContext implements HandlerContext {
  readonly requestMethod = "POST";
  #controller: AbortController | undefined;
  #abortedWith: unknown = notAborted;
  readonly #headers: IncomingHttpHeaders;
  readonly #deadline: number | undefined;
  readonly #stream: ServerHttp2Stream;
  #values: ContextValues | undefined;
  #requestHeader: Headers | undefined;
  #responseHeader: Headers | undefined;
  #responseTrailer: Headers | undefined;

  constructor(
    readonly method: DescMethod,
    readonly protocolName: "grpc" | "connect",
    values: ContextValues | undefined,
    stream: ServerHttp2Stream,
    headers: IncomingHttpHeaders,
    /** When the client's deadline passes (Date.now() ms), counted from the call's headers. */
    deadline: number | undefined,
  ) {
    this.#values = values;
    this.#stream = stream;
    this.#headers = headers;
    this.#deadline = deadline;
  }

  get service(): DescService {
    return this.method.parent;
  }

  /**
   * Aborts when the deadline passes, the client resets the stream, or the call ends (as Connect's does,
   * success included).
   */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#abortedWith !== notAborted) this.#controller.abort(this.#abortedWith);
    }
    return this.#controller.signal;
  }

  /** Aborts the signal, or notes the reason for a signal not asked for yet (the first reason wins). */
  abort(reason: unknown): void {
    if (this.#abortedWith !== notAborted) return;
    this.#abortedWith = reason;
    this.#controller?.abort(reason);
  }

  get values(): ContextValues {
    this.#values ??= createContextValues();
    return this.#values;
  }

  timeoutMs(): number | undefined {
    return this.#deadline === undefined ? undefined : this.#deadline - Date.now();
  }

  get url(): string {
    return requestUrl(this.#stream, this.#headers);
  }

  get requestHeader(): Headers {
    this.#requestHeader ??= webHeaders(this.#headers);
    return this.#requestHeader;
  }

  get responseHeader(): Headers {
    this.#responseHeader ??= new Headers();
    return this.#responseHeader;
  }

  get responseTrailer(): Headers {
    this.#responseTrailer ??= new Headers();
    return this.#responseTrailer;
  }

  /** Headers and trailers a handler set, if it touched them. */
  get touchedResponseHeader(): Headers | undefined {
    return this.#responseHeader;
  }

  get touchedResponseTrailer(): Headers | undefined {
    return this.#responseTrailer;
  }
}

/** The URL of a request as connect-node makes it (lean-path.ts takes only authorities that parse). */
export function requestUrl(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): string {
  const encrypted = (stream.session?.socket as TLSSocket | undefined)?.encrypted === true;
  const authority = headers[":authority"] ?? headers.host;
  return new URL(headers[":path"] ?? "", `${encrypted ? "https" : "http"}://${authority}`).toString();
}

/** Node's request headers as fetch Headers, without HTTP/2 pseudo-headers (as connect-node makes them). */
export function webHeaders(headers: IncomingHttpHeaders): Headers {
  const web = new Headers();
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith(":") || value === undefined) continue;
    if (Array.isArray(value)) for (const item of value) web.append(name, item);
    else web.append(name, value);
  }
  return web;
}
