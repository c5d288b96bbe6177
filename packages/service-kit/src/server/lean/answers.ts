import http2, { type OutgoingHttpHeaders, type ServerHttp2Stream } from "node:http2";
import type { JsonWriteOptions } from "@bufbuild/protobuf";
import type { ConnectError } from "@connectrpc/connect";
import type { Compression, UniversalServerResponse } from "@connectrpc/connect/protocol";
import { codeToHttpStatus, errorToJsonBytes, trailerMux } from "@connectrpc/connect/protocol-connect";
import { setTrailerStatus } from "@connectrpc/connect/protocol-grpc";

/**
 * Writing a lean call's answer on its HTTP/2 stream: what connectNodeAdapter writes for the same
 * outcome (the differential tests compare them). Connect's own functions encode statuses, errors and
 * trailers; only the writing is ours. (Node's `respond` adds `date`, as the adapter's response does.)
 */

/** What is settled about a call's answer before its implementation runs. */
export interface AnswerFormat {
  readonly protocol: "grpc" | "connect";
  /** Protobuf binary, or JSON (Connect only). */
  readonly binary: boolean;
  /** The response content type: the request's format, as Connect answers it. */
  readonly contentType: string;
  /** The response compression the client accepts, if any (Connect's negotiation). */
  readonly compression: Compression | null;
  readonly compressMinBytes: number;
}

/** Headers and trailers a handler set through its context (rare: ours set none). */
export interface HandlerMetadata {
  readonly header: Headers | undefined;
  readonly trailer: Headers | undefined;
}

const trailersOf = Symbol("trailers");
type AnsweredStream = ServerHttp2Stream & { [trailersOf]?: OutgoingHttpHeaders };

function sendTrailers(this: AnsweredStream): void {
  const trailers = this[trailersOf];
  if (trailers !== undefined) this.sendTrailers(trailers);
}

/** The trailers of every gRPC success whose handler set none (Node only reads them). */
const okTrailers: OutgoingHttpHeaders = { "grpc-status": "0" };

/** Headers HTTP/2 forbids (RFC 9113 8.2.2): Node's compatibility layer drops them from answers too. */
const connectionSpecific = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
]);

function copyInto(target: OutgoingHttpHeaders, headers: Headers | undefined): void {
  headers?.forEach((value, name) => {
    if (!connectionSpecific.has(name)) target[name] = value;
  });
}

/**
 * An answer that could not be written (Node refused it, encoding it failed): reported, and the stream
 * reset so the client is not left waiting for an answer that will not come.
 */
export function failedAnswer(
  stream: ServerHttp2Stream,
  reason: unknown,
  report: (reason: unknown) => void,
): void {
  report(reason);
  if (!stream.destroyed && !stream.closed) stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
}

/**
 * Writes headers, one body and, for gRPC, trailers; a stream the client already reset needs no answer.
 * Throws what Node refuses (see failedAnswer).
 */
function write(
  stream: ServerHttp2Stream,
  headers: OutgoingHttpHeaders,
  body: Uint8Array,
  trailers: OutgoingHttpHeaders | undefined,
): void {
  if (stream.destroyed || stream.closed) return;
  if (trailers === undefined) {
    stream.respond(headers);
    stream.end(body);
    return;
  }
  (stream as AnsweredStream)[trailersOf] = trailers;
  stream.on("wantTrailers", sendTrailers);
  stream.respond(headers, { waitForTrailers: true });
  // An empty chunk written before the end would keep 'wantTrailers' from firing.
  if (body.byteLength === 0) stream.end();
  else stream.end(body);
}

/**
 * The body compressed when the client accepts it and it is big enough (Connect's rule), else as it is:
 * only then is writing the answer asynchronous, so most answers go out without a promise of their own.
 */
function compressed(body: Uint8Array, format: AnswerFormat): Promise<Uint8Array> | undefined {
  return format.compression && body.byteLength >= format.compressMinBytes
    ? format.compression.compress(body)
    : undefined;
}

/** The 5-byte gRPC envelope around a message (flag 1: compressed). */
function envelope(data: Uint8Array, flags: number): Uint8Array {
  const framed = Buffer.allocUnsafe(5 + data.byteLength);
  framed[0] = flags;
  framed.writeUInt32BE(data.byteLength, 1);
  framed.set(data, 5);
  return framed;
}

function grpcHeaders(format: AnswerFormat, handler: HandlerMetadata): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = { ":status": 200, "content-type": format.contentType };
  if (format.compression) headers["grpc-encoding"] = format.compression.name;
  copyInto(headers, handler.header);
  return headers;
}

/** Connect unary: the body as is or compressed, handler trailers muxed into the headers. */
function writeConnect(
  stream: ServerHttp2Stream,
  headers: OutgoingHttpHeaders,
  handler: HandlerMetadata,
  body: Uint8Array,
  format: AnswerFormat,
): Promise<void> | undefined {
  if (handler.trailer) copyInto(headers, trailerMux(new Headers(), handler.trailer));
  const send = (data: Uint8Array) => {
    headers["content-length"] = String(data.byteLength);
    write(stream, headers, data, undefined);
  };
  const compressing = compressed(body, format);
  if (compressing === undefined) {
    send(body);
    return undefined;
  }
  headers["content-encoding"] = format.compression!.name;
  return compressing.then(send);
}

/** Writes the answer of a call that succeeded; a promise only while its body is being compressed. */
export function answerMessage(
  stream: ServerHttp2Stream,
  format: AnswerFormat,
  handler: HandlerMetadata,
  requestId: string,
  message: Uint8Array,
): Promise<void> | undefined {
  if (format.protocol === "grpc") {
    const headers = grpcHeaders(format, handler);
    headers["x-request-id"] = requestId;
    let trailers = okTrailers;
    if (handler.trailer) {
      trailers = {};
      copyInto(trailers, handler.trailer);
      trailers["grpc-status"] = "0";
    }
    const compressing = compressed(message, format);
    if (compressing === undefined) {
      write(stream, headers, envelope(message, 0), trailers);
      return undefined;
    }
    return compressing.then((data) => write(stream, headers, envelope(data, 1), trailers));
  }
  // In Connect's order: its content type, then what the handler set, then the request log's id.
  const headers: OutgoingHttpHeaders = { ":status": 200, "content-type": format.contentType };
  copyInto(headers, handler.header);
  headers["x-request-id"] = requestId;
  return writeConnect(stream, headers, handler, message, format);
}

/** Writes the answer of a call that failed; a promise only while its body is being compressed. */
export function answerError(
  stream: ServerHttp2Stream,
  format: AnswerFormat,
  handler: HandlerMetadata,
  error: ConnectError,
  /** The router's JSON options, as Connect passes them to its error encoding. */
  jsonOptions: Partial<JsonWriteOptions> | object | undefined,
): Promise<void> | undefined {
  if (format.protocol === "grpc") {
    const trailers: OutgoingHttpHeaders = {};
    copyInto(trailers, setTrailerStatus(new Headers(handler.trailer), error));
    write(stream, grpcHeaders(format, handler), new Uint8Array(0), trailers);
    return undefined;
  }
  const headers: OutgoingHttpHeaders = { ":status": codeToHttpStatus(error.code) };
  copyInto(headers, handler.header);
  headers["content-type"] = "application/json";
  copyInto(headers, error.metadata);
  const body = errorToJsonBytes(error, (jsonOptions ?? {}) as Partial<JsonWriteOptions>);
  return writeConnect(stream, headers, handler, body, format);
}

/** Writes Connect's own answer (a universal response) on the stream: the lean path's fallback. */
export async function answerUniversal(
  stream: ServerHttp2Stream,
  answer: UniversalServerResponse,
): Promise<void> {
  const chunks: Uint8Array[] = [];
  if (answer.body) for await (const chunk of answer.body) chunks.push(chunk);
  const headers: OutgoingHttpHeaders = { ":status": answer.status };
  copyInto(headers, answer.header);
  let trailers: OutgoingHttpHeaders | undefined;
  if (answer.trailer) {
    trailers = {};
    copyInto(trailers, answer.trailer);
  }
  write(stream, headers, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks), trailers);
}
