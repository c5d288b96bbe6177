import type { DescMethod } from "@bufbuild/protobuf";
import { Code, type ContextValues, createContextKey } from "@connectrpc/connect";
import type { UniversalServerResponse } from "@connectrpc/connect/protocol";
import { codeFromHttpStatus, codeFromString } from "@connectrpc/connect/protocol-connect";
import type { RpcCall } from "../server/rpc-handler.js";

/**
 * Calls Connect answers before any interceptor runs (a body over MAX_REQUEST_BYTES, one that does not
 * parse, an unsupported content type or HTTP method, a deadline above the maximum) never reach the
 * metrics interceptor. These helpers count them in `rpc_calls_total` too, once each: the metrics
 * interceptor marks the calls it counted in their context values, and the RPC adapter hands each
 * answer to {@link countingProtocolRejections}, which reads the code of those that are not marked.
 */
const countedKey = createContextKey(false, { description: "counted by the metrics interceptor" });

/** For the metrics interceptor: this call is counted, the adapter's `onAnswer` must not count it again. */
export function markCounted(contextValues: ContextValues): void {
  contextValues.set(countedKey, true);
}

/** Counts one call of `method` (a method name, or "unknown") answered with `code`. */
export type CountCall = (method: string, code: Code) => void;

/**
 * For the RPC adapter's `onAnswer` (server/rpc-handler.ts): counts the calls Connect answered without
 * running the interceptors, and passes every answer on (a streamed one observed as it is written).
 */
export function countingProtocolRejections(
  count: CountCall,
): (method: DescMethod, call: RpcCall, response: UniversalServerResponse) => UniversalServerResponse {
  return (method, call, response) => {
    if (call.contextValues.get(countedKey)) return response;
    if (response.body === undefined) {
      count(method.name, codeFromHttpStatus(response.status));
      return response;
    }
    // Only known once the answer has ended: a streaming protocol (gRPC) resolves with its headers and
    // runs the interceptors and the implementation as its body is read.
    return {
      ...response,
      body: readingTheCode(
        response,
        response.body,
        () => call.contextValues.get(countedKey),
        (code) =>
          // A client that went away gets no answer, whatever Connect made of the cut request.
          count(method.name, call.signal.aborted ? Code.Canceled : code),
      ),
    };
  };
}

/** How much of an uncounted answer is kept to read its code: an error answer is a few hundred bytes. */
const KEPT_BYTES = 4_096;

/**
 * The body passed through unchanged; once it ended, unless the interceptors counted the call meanwhile
 * (a streaming protocol runs them as the body is read), `record` gets the code the answer carried.
 */
async function* readingTheCode(
  response: UniversalServerResponse,
  body: AsyncIterable<Uint8Array>,
  counted: () => boolean,
  record: (code: Code) => void,
): AsyncIterable<Uint8Array> {
  const kept: Uint8Array[] = [];
  let keptBytes = 0;
  let ended = false;
  try {
    for await (const chunk of body) {
      if (keptBytes < KEPT_BYTES && !counted()) {
        kept.push(chunk);
        keptBytes += chunk.byteLength;
      }
      yield chunk;
    }
    ended = true;
  } finally {
    // An answer cut short was cancelled by its client (a reset stream, a closed connection).
    if (!counted()) record(ended ? answerCode(response, Buffer.concat(kept)) : Code.Canceled);
  }
}

/**
 * The code of an answer without a message: gRPC's `grpc-status` trailer, gRPC-Web's trailer frame,
 * Connect's error JSON (unary) or end-of-stream JSON (streams); else what a client makes of the HTTP
 * status (Connect's and gRPC's mapping: 404 → UNIMPLEMENTED, 415 → UNKNOWN, ...).
 */
function answerCode(response: UniversalServerResponse, body: Buffer): Code {
  const grpcStatus = response.trailer?.get("grpc-status") ?? response.header?.get("grpc-status");
  if (grpcStatus != null) return Number(grpcStatus) as Code;
  const contentType = response.header?.get("content-type") ?? "";
  const text = (
    contentType.includes("grpc-web-text") ? Buffer.from(body.toString(), "base64") : body
  ).toString("latin1");
  const trailerStatus = /grpc-status:\s*(\d+)/i.exec(text)?.[1];
  if (trailerStatus !== undefined) return Number(trailerStatus) as Code;
  const connectCode = /"code":\s*"([a-z_]+)"/.exec(text)?.[1];
  const code = connectCode === undefined ? undefined : codeFromString(connectCode);
  return code ?? codeFromHttpStatus(response.status);
}

/** For a path that names no method of the server: Connect answers 404, which clients read as UNIMPLEMENTED. */
export function countUnknownMethod(count: CountCall): void {
  count("unknown", Code.Unimplemented);
}
