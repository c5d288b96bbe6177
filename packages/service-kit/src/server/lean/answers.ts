import type { OutgoingHttpHeaders, ServerHttp2Stream } from "node:http2";
import type { JsonWriteOptions } from "@bufbuild/protobuf";
import type { ConnectError } from "@connectrpc/connect";
import type { Compression, UniversalServerResponse } from "@connectrpc/connect/protocol";
import { codeToHttpStatus, errorToJsonBytes, trailerMux } from "@connectrpc/connect/protocol-connect";
import { setTrailerStatus } from "@connectrpc/connect/protocol-grpc";

/**
 * Writing a lean call's answer on its HTTP/2 stream, byte for byte what connectNodeAdapter writes for
 * the same outcome (the differential tests compare them): Connect's own functions encode statuses,
 * errors and trailers; only the writing to the stream is ours.
 */

/** What is settled about a call's answer before its implementation runs. */
export interface AnswerFormat {
  readonly protocol: "grpc" | "connect";
  /** The response content type: the request's format, as Connect answers it. */
  readonly contentType: string;
  /** The response compression the client accepts, if any (Connect's negotiation). */
  readonly compression: Compression | null;
  readonly compressMinBytes: number;
}

/** The headers a handler set through its context, and the request id the request log gave the call. */
export interface AnswerMetadata {
  readonly header: Headers | undefined;
  readonly trailer: Headers | undefined;
}

const trailersOf = Symbol("trailers");
type AnsweredStream = ServerHttp2Stream & { [trailersOf]?: OutgoingHttpHeaders };

// A refused client still sending its body needs nothing more: Node resets a server stream whose answer
// ended before its request did (RST_STREAM NO_ERROR, as HTTP/2 allows), as it does for the adapter.
function sendTrailers(this: AnsweredStream): void {
  const trailers = this[trailersOf];
  if (trailers !== undefined) this.sendTrailers(trailers);
}

/** Node's `date` header, as the compatibility layer adds it to every response (made once a second). */
let dateSecond = 0;
let dateValue = "";
function httpDate(): string {
  const now = Date.now();
  const second = Math.floor(now / 1_000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateValue = new Date(now).toUTCString();
  }
  return dateValue;
}

function copyInto(target: OutgoingHttpHeaders, headers: Headers | undefined): void {
  headers?.forEach((value, name) => {
    target[name] = value;
  });
}

/** Writes headers, one body and, for gRPC, trailers; a stream the client already reset is left alone. */
function write(
  stream: ServerHttp2Stream,
  headers: OutgoingHttpHeaders,
  body: Uint8Array,
  trailers: OutgoingHttpHeaders | undefined,
): void {
  if (stream.destroyed || stream.closed) return;
  headers.date = httpDate();
  try {
    if (trailers === undefined) {
      stream.respond(headers);
      stream.end(body);
    } else {
      (stream as AnsweredStream)[trailersOf] = trailers;
      stream.once("wantTrailers", sendTrailers);
      stream.respond(headers, { waitForTrailers: true });
      // An empty chunk written before the end would keep 'wantTrailers' from firing.
      if (body.byteLength === 0) stream.end();
      else stream.end(body);
    }
  } catch {
    // The stream closed between the check and the write: nobody is left to answer.
  }
}

/** The 5-byte gRPC envelope around a message, compressed when the client accepts it and it is big. */
async function envelope(message: Uint8Array, format: AnswerFormat): Promise<Uint8Array> {
  let flags = 0;
  let data = message;
  if (format.compression && message.byteLength >= format.compressMinBytes) {
    data = await format.compression.compress(message);
    flags = 1;
  }
  const framed = Buffer.allocUnsafe(5 + data.byteLength);
  framed[0] = flags;
  framed.writeUInt32BE(data.byteLength, 1);
  framed.set(data, 5);
  return framed;
}

function grpcHeaders(format: AnswerFormat, metadata: AnswerMetadata): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = { ":status": 200, "content-type": format.contentType };
  if (format.compression) headers["grpc-encoding"] = format.compression.name;
  copyInto(headers, metadata.header);
  return headers;
}

/** Connect unary: the body as is (compressed when accepted and big), handler trailers muxed into headers. */
async function writeConnect(
  stream: ServerHttp2Stream,
  status: number,
  header: Headers,
  trailer: Headers | undefined,
  body: Uint8Array,
  format: AnswerFormat,
): Promise<void> {
  let data = body;
  if (format.compression && body.byteLength >= format.compressMinBytes) {
    data = await format.compression.compress(body);
    header.set("content-encoding", format.compression.name);
  }
  const muxed = trailer === undefined ? header : trailerMux(header, trailer);
  const headers: OutgoingHttpHeaders = { ":status": status };
  copyInto(headers, muxed);
  headers["content-length"] = String(data.byteLength);
  write(stream, headers, data, undefined);
}

export async function answerMessage(
  stream: ServerHttp2Stream,
  format: AnswerFormat,
  metadata: AnswerMetadata,
  requestId: string,
  message: Uint8Array,
): Promise<void> {
  if (format.protocol === "grpc") {
    const headers = grpcHeaders(format, metadata);
    headers["x-request-id"] = requestId;
    const trailers: OutgoingHttpHeaders = {};
    copyInto(trailers, metadata.trailer);
    trailers["grpc-status"] = "0";
    write(stream, headers, await envelope(message, format), trailers);
    return;
  }
  const header = new Headers(metadata.header);
  header.set("content-type", format.contentType);
  header.set("x-request-id", requestId);
  await writeConnect(stream, 200, header, metadata.trailer, message, format);
}

export async function answerError(
  stream: ServerHttp2Stream,
  format: AnswerFormat,
  metadata: AnswerMetadata,
  error: ConnectError,
  jsonOptions: Partial<JsonWriteOptions> | undefined,
): Promise<void> {
  if (format.protocol === "grpc") {
    const trailers: OutgoingHttpHeaders = {};
    copyInto(trailers, setTrailerStatus(new Headers(metadata.trailer), error));
    write(stream, grpcHeaders(format, metadata), new Uint8Array(0), trailers);
    return;
  }
  const header = new Headers(metadata.header);
  header.set("content-type", "application/json");
  error.metadata.forEach((value, name) => {
    header.set(name, value);
  });
  const body = errorToJsonBytes(error, jsonOptions ?? {});
  await writeConnect(stream, codeToHttpStatus(error.code), header, metadata.trailer, body, format);
}

/** Writes Connect's own answer (a universal response) on the stream: the lean path's fallback. */
export async function answerUniversal(stream: ServerHttp2Stream, answer: UniversalServerResponse) {
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
