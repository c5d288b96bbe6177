import type { IncomingHttpHeaders, ServerHttp2Stream } from "node:http2";
import type { DescMessage } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { MethodSerializationLookup } from "@connectrpc/connect/protocol";

/** The head of a body, then the rest of the stream: what Connect reads when the lean path steps aside. */
export async function* headThenRest(
  head: Uint8Array[],
  stream: ServerHttp2Stream,
): AsyncIterable<Uint8Array> {
  yield* head;
  yield* stream;
}

/** A message's bytes decoded with Connect's own serialization, or undefined if Connect would refuse them. */
export function decodeMessage(
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

/** The message length a gRPC body's 5-byte prefix announces, or undefined if it is compressed (flags). */
export function grpcMessageLength(chunks: readonly Buffer[]): number | undefined {
  const prefix = chunks[0]!.byteLength >= 5 ? chunks[0]! : Buffer.concat(chunks);
  return prefix[0] === 0 ? prefix.readUInt32BE(1) : undefined;
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
