import type { IncomingHttpHeaders } from "node:http2";
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import type { ContextValues, HandlerContext } from "@connectrpc/connect";

/**
 * The context a lean call's implementation gets: what Connect's `createHandlerContext` gives, with the
 * header objects made only when a handler asks for them (ours read only `signal` and `values`).
 */
export class LeanHandlerContext implements HandlerContext {
  readonly requestMethod = "POST";
  readonly #headers: IncomingHttpHeaders;
  readonly #deadline: number | undefined;
  readonly #scheme: string;
  #requestHeader: Headers | undefined;
  #responseHeader: Headers | undefined;
  #responseTrailer: Headers | undefined;

  constructor(
    readonly method: DescMethod,
    readonly protocolName: "grpc" | "connect",
    readonly signal: AbortSignal,
    readonly values: ContextValues,
    headers: IncomingHttpHeaders,
    encrypted: boolean,
    timeoutMs: number | undefined,
  ) {
    this.#headers = headers;
    this.#scheme = encrypted ? "https" : "http";
    this.#deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
  }

  get service(): DescService {
    return this.method.parent;
  }

  readonly timeoutMs = (): number | undefined =>
    this.#deadline === undefined ? undefined : this.#deadline - Date.now();

  get url(): string {
    const authority = this.#headers[":authority"] ?? this.#headers.host;
    return new URL(this.#headers[":path"] ?? "", `${this.#scheme}://${authority}`).toString();
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
