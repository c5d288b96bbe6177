import http from "node:http";
import http2 from "node:http2";

/** A request exactly as it goes on the wire: no header is added or changed by the sender. */
export interface WireRequest {
  method: string;
  /** Path and query. */
  path: string;
  headers: Record<string, string>;
  body: Buffer;
  /** Sends the body without its end (HTTP/2): the stream stays open for whatever comes next. */
  keepOpen?: boolean;
}

/** Everything a client can observe of one answer. */
export interface WireAnswer {
  /** Undefined when no response headers came. */
  status: number | undefined;
  headers: Record<string, string>;
  trailers: Record<string, string>;
  body: Buffer;
  /** The stream's RST_STREAM code once closed (0 = NO_ERROR, closed normally); undefined for HTTP/1.1. */
  rstCode: number | undefined;
  /** The error the client saw (a reset stream, a closed connection), by code. */
  error: string | undefined;
}

const ANSWER_LIMIT_MS = 10_000;

function flatten(headers: http.IncomingHttpHeaders | http2.IncomingHttpHeaders): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (name === ":status" || value === undefined) continue;
    flat[name] = Array.isArray(value) ? value.join(", ") : String(value);
  }
  return flat;
}

/**
 * A raw HTTP/2 client of one server: one session, reused while it lives (a new one after the server
 * ended it), sending each request's headers and body bytes as given.
 */
export class RawHttp2Client {
  #session: http2.ClientHttp2Session | undefined;

  constructor(
    readonly url: string,
    readonly ca?: Buffer,
  ) {}

  #connect(): http2.ClientHttp2Session {
    if (this.#session && !this.#session.closed && !this.#session.destroyed) return this.#session;
    const session = http2.connect(this.url, this.ca ? { ca: this.ca } : {});
    // Errors also reach the streams, which report them; a broken session is replaced on the next send.
    session.on("error", () => {});
    session.once("close", () => {
      if (this.#session === session) this.#session = undefined;
    });
    this.#session = session;
    return session;
  }

  /**
   * Sends `request` and resolves when its stream closed. `onStream` may act on the open stream (reset
   * it, stop reading). Gives up, resetting the stream, after 10 s.
   */
  send(request: WireRequest, onStream?: (stream: http2.ClientHttp2Stream) => void): Promise<WireAnswer> {
    const stream = this.#connect().request(
      { ":method": request.method, ":path": request.path, ...request.headers },
      { endStream: false },
    );
    return new Promise((resolve) => {
      const answer: WireAnswer = {
        status: undefined,
        headers: {},
        trailers: {},
        body: Buffer.alloc(0),
        rstCode: undefined,
        error: undefined,
      };
      const chunks: Buffer[] = [];
      const timer = setTimeout(() => {
        answer.error = "no answer within 10 s";
        stream.close(http2.constants.NGHTTP2_CANCEL);
      }, ANSWER_LIMIT_MS);
      stream.on("response", (headers) => {
        answer.status = Number(headers[":status"]);
        answer.headers = flatten(headers);
      });
      stream.on("trailers", (trailers) => {
        answer.trailers = flatten(trailers);
      });
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("error", (error: NodeJS.ErrnoException) => {
        answer.error ??= error.code ?? error.message;
      });
      stream.on("close", () => {
        clearTimeout(timer);
        answer.body = Buffer.concat(chunks);
        answer.rstCode = stream.rstCode;
        resolve(answer);
      });
      // A server that answers before reading the whole body may close the stream under the write.
      if (request.keepOpen) stream.write(request.body);
      else stream.end(request.body);
      onStream?.(stream);
    });
  }

  close(): void {
    this.#session?.close();
    this.#session = undefined;
  }
}

/**
 * Sends one request over HTTP/1.1 on a connection of its own. Node adds `host` and `connection`; a
 * body without `content-length` goes chunked.
 */
export function sendHttp1(url: string, request: WireRequest): Promise<WireAnswer> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const answer: WireAnswer = {
      status: undefined,
      headers: {},
      trailers: {},
      body: Buffer.alloc(0),
      rstCode: undefined,
      error: undefined,
    };
    const outgoing = http.request(
      { hostname, port, method: request.method, path: request.path, headers: request.headers, agent: false },
      (response) => {
        answer.status = response.statusCode;
        answer.headers = flatten(response.headers);
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("close", () => {
          answer.body = Buffer.concat(chunks);
          answer.trailers = flatten(response.trailers);
          resolve(answer);
        });
      },
    );
    outgoing.setTimeout(ANSWER_LIMIT_MS, () => outgoing.destroy(new Error("no answer within 10 s")));
    outgoing.on("error", (error: NodeJS.ErrnoException) => {
      answer.error ??= error.code ?? error.message;
      resolve(answer);
    });
    outgoing.end(request.body);
  });
}
