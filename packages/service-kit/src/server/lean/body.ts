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

/**
 * The request message of a whole body, when it is exactly what Connect would accept: for gRPC one
 * uncompressed envelope; for Connect a body within the limit that matches its content-length; and a
 * message that decodes (Connect's own serialization: UTF-8, JSON options and limits alike). Anything
 * else is undefined, and Connect answers it.
 */
export function decodeRequest(
  serialization: MethodSerializationLookup<DescMessage, DescMessage>,
  binary: boolean,
  grpc: boolean,
  headers: IncomingHttpHeaders,
  body: Uint8Array,
  readMaxBytes: number,
): unknown {
  let message = body;
  if (grpc) {
    if (body.byteLength < 5 || body[0] !== 0) return undefined;
    const length = new DataView(body.buffer, body.byteOffset, 5).getUint32(1);
    if (length !== body.byteLength - 5 || length > readMaxBytes) return undefined;
    message = body.subarray(5);
  } else {
    const declared = headers["content-length"];
    if (body.byteLength > readMaxBytes) return undefined;
    if (declared !== undefined && declared !== String(body.byteLength)) return undefined;
  }
  try {
    return serialization.getI(binary).parse(message);
  } catch {
    return undefined;
  }
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
