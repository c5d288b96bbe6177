import type { IncomingHttpHeaders, ServerHttp2Stream } from "node:http2";
import type { ContextValues } from "@connectrpc/connect";
import { createContextValues } from "@connectrpc/connect";
import type { RpcCall, RpcHandler } from "../rpc-handler.js";
import { answerUniversal, failedAnswer } from "./answers.js";
import { resetError } from "./body.js";
import { requestUrl, webHeaders } from "./handler-context.js";

/**
 * Hands a call the lean path does not take after all (a body over the limit, bad framing, a message
 * that does not decode) to Connect, with the bytes read so far as the start of its body: Connect reads
 * on, answers as it would have, and counts the call (`onAnswer`).
 */
export function answerByConnect(
  rpc: RpcHandler,
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  values: ContextValues | undefined,
  body: AsyncIterable<Uint8Array> | readonly Uint8Array[],
  onWriteError: (reason: unknown) => void,
): void {
  const controller = new AbortController();
  const abortOnReset = () => controller.abort(resetError(stream.rstCode));
  stream.once("close", abortOnReset);
  const call: RpcCall = {
    httpVersion: "2.0",
    method: "POST",
    url: requestUrl(stream, headers),
    header: webHeaders(headers),
    body: Symbol.asyncIterator in body ? body : each(body),
    signal: controller.signal,
    contextValues: values ?? createContextValues(),
  };
  rpc
    .answer(headers[":path"] ?? "", call)
    ?.then((answer) => answerUniversal(stream, answer))
    .catch((reason: unknown) => failedAnswer(stream, reason, onWriteError))
    .finally(() => stream.off("close", abortOnReset));
}

async function* each(chunks: readonly Uint8Array[]): AsyncIterable<Uint8Array> {
  yield* chunks;
}
