import type { IncomingHttpHeaders, ServerHttp2Stream } from "node:http2";
import type { DescMessage } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { MethodSerializationLookup } from "@connectrpc/connect/protocol";

/** The head of a body, then the rest of the stream: what Connect reads when the lean path steps aside. */
export async function* headThenRest(
  head: readonly Uint8Array[],
  stream: ServerHttp2Stream,
): AsyncIterable<Uint8Array> {
  yield* head;
  yield* stream;
}

/**
 * A unary request's body as it arrives, kept while it may still be one message the lean path answers.
 * As soon as it cannot (over the limit, compressed, a second message, a message that does not decode),
 * `add` says so and Connect takes over with the bytes so far, so a client still sending gets Connect's
 * answer when Connect would give it, not at the end of the stream.
 */
export class RequestBody {
  #chunks: Buffer[] = [];
  #size = 0;
  /** The gRPC message length the envelope's prefix announced (-1: compressed), once read. */
  #announced: number | undefined;
  #message: unknown;

  constructor(
    private readonly grpc: boolean,
    private readonly binary: boolean,
    private readonly serialization: MethodSerializationLookup<DescMessage, DescMessage>,
    private readonly readMaxBytes: number,
    /** A Connect request's `content-length`. */
    private readonly declared: number | undefined,
  ) {}

  /** The bytes read so far. */
  get chunks(): readonly Buffer[] {
    return this.#chunks;
  }

  /** Takes a chunk; false once the bytes so far cannot be one message the lean path answers. */
  add(chunk: Buffer): boolean {
    this.#chunks.push(chunk);
    this.#size += chunk.byteLength;
    if (!this.grpc) return this.#size <= (this.declared ?? this.readMaxBytes);
    if (this.#size < 5) return true;
    // Read once: a client sending its prefix a byte at a time must not make each chunk copy the body.
    this.#announced ??= grpcMessageLength(this.#chunks);
    const length = this.#announced;
    if (length < 0 || length > this.readMaxBytes || this.#size > 5 + length) return false;
    if (this.#size < 5 + length) return true;
    // Connect parses a message as soon as its envelope is complete, before the stream ends.
    this.#message = decode(this.serialization, true, this.whole().subarray(5));
    return this.#message !== undefined;
  }

  /** At the end of the stream: the request message, or undefined when Connect is to answer the body. */
  message(): unknown {
    if (!this.grpc && (this.declared ?? this.#size) === this.#size) {
      this.#message = decode(this.serialization, this.binary, this.whole());
    }
    if (this.#message !== undefined) this.#chunks = []; // decoded: its bytes need not live with the call
    return this.#message;
  }

  whole(): Buffer {
    if (this.#chunks.length !== 1) this.#chunks = [Buffer.concat(this.#chunks, this.#size)];
    return this.#chunks[0]!;
  }
}

/** A message's bytes decoded with Connect's own serialization, or undefined if Connect would refuse them. */
function decode(
  serialization: MethodSerializationLookup<DescMessage, DescMessage>,
  binary: boolean,
  bytes: Uint8Array,
): unknown {
  try {
    return serialization.getI(binary).parse(bytes);
  } catch {
    return undefined;
  }
}

/** The message length a gRPC body's 5-byte prefix announces, or -1 if it is compressed (or flags). */
function grpcMessageLength(chunks: readonly Buffer[]): number {
  const prefix = chunks[0]!.byteLength >= 5 ? chunks[0]! : Buffer.concat(chunks);
  return prefix[0] === 0 ? prefix.readUInt32BE(1) : -1;
}

/** A Connect request's `content-length` as Connect reads it: a count of bytes, absent, or not one. */
export function declaredLength(headers: IncomingHttpHeaders): number | undefined | "invalid" {
  const value = headers["content-length"];
  if (value === undefined) return undefined;
  return /^\d{1,15}$/.test(value) ? Number(value) : "invalid";
}

/** What connect-node makes of a stream reset under a running call (its connectErrorFromH2ResetCode). */
export function resetError(rstCode: number | undefined): ConnectError | undefined {
  const code = rstCode === undefined ? undefined : resetCodes[rstCode];
  if (code === undefined) return undefined;
  return new ConnectError(
    `http/2 stream closed with error code ${code[0]} (0x${rstCode!.toString(16)})`,
    code[1],
  );
}

const resetCodes: Record<number, [string, Code]> = {
  1: ["PROTOCOL_ERROR", Code.Internal],
  2: ["INTERNAL_ERROR", Code.Internal],
  3: ["FLOW_CONTROL_ERROR", Code.Internal],
  4: ["SETTINGS_TIMEOUT", Code.Internal],
  6: ["FRAME_SIZE_ERROR", Code.Internal],
  7: ["REFUSED_STREAM", Code.Unavailable],
  8: ["CANCEL", Code.Canceled],
  9: ["COMPRESSION_ERROR", Code.Internal],
  10: ["CONNECT_ERROR", Code.Internal],
  11: ["ENHANCE_YOUR_CALM", Code.ResourceExhausted],
  12: ["INADEQUATE_SECURITY", Code.PermissionDenied],
  13: ["HTTP_1_1_REQUIRED", Code.PermissionDenied],
};
