import zlib from "node:zlib";
import type { WireAnswer } from "./raw-client.js";

/** Stands in for a request id the server made up (each server makes its own). */
export const GENERATED_ID = "<generated request id>";

/** A decoded body: what two answers must agree on. */
export type NormalizedBody =
  | { kind: "none" }
  /** Protobuf or anything else not text: compared byte for byte (as hex, for readable diffs). */
  | { kind: "bytes"; hex: string }
  /** A successful Connect JSON answer: compared as text, byte for byte. */
  | { kind: "json-text"; text: string }
  /** A Connect error (or any JSON that is not a message): compared as a parsed object. */
  | { kind: "json"; value: unknown }
  | { kind: "envelopes"; frames: { flags: number; message: string }[]; rest?: string }
  | { kind: "undecodable"; encoding: string; hex: string };

export interface NormalizedAnswer {
  status: number | undefined;
  headers: Record<string, string>;
  trailers: Record<string, string>;
  body: NormalizedBody;
  rstCode: number | undefined;
  error: string | undefined;
}

function decompress(encoding: string | undefined, data: Buffer): Buffer | undefined {
  try {
    if (encoding === "gzip") return zlib.gunzipSync(data);
    if (encoding === "br") return zlib.brotliDecompressSync(data);
    return encoding === undefined || encoding === "identity" ? data : undefined;
  } catch {
    return undefined;
  }
}

/** Text when `type` says JSON, else hex. */
function render(type: string, data: Buffer): string {
  return type.includes("json") ? `json:${data.toString("latin1")}` : `hex:${data.toString("hex")}`;
}

function normalizeHeaders(headers: Record<string, string>, sentRequestId: string | undefined) {
  const normalized: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (name === "date") continue;
    // A request id the client sent (and the server kept) must come back identical; others are the
    // server's own, different on each server but present on both.
    normalized[name] = name === "x-request-id" && value !== sentRequestId ? GENERATED_ID : value;
  }
  return normalized;
}

/** A trailer block or end-of-stream JSON with server-made request ids replaced by the placeholder. */
function withoutGeneratedIds(text: string, sentRequestId: string | undefined): string {
  return text
    .replace(/^(x-request-id:\s*)(.*?)(\r?)$/gim, (line, name: string, id: string, cr: string) =>
      id === sentRequestId ? line : `${name}${GENERATED_ID}${cr}`,
    )
    .replace(/("x-request-id":\[")([^"]*)("\])/g, (whole, open: string, id: string, close: string) =>
      id === sentRequestId ? whole : `${open}${GENERATED_ID}${close}`,
    );
}

function normalizeBody(answer: WireAnswer, sentRequestId: string | undefined): NormalizedBody {
  if (answer.body.length === 0) return { kind: "none" };
  const type = (answer.headers["content-type"] ?? "").toLowerCase();
  // gRPC, gRPC-Web and Connect streaming: 5-byte envelopes, each compressed on its own (flag 1).
  if (type.startsWith("application/grpc") || type.startsWith("application/connect+")) {
    const encoding = answer.headers["grpc-encoding"] ?? answer.headers["connect-content-encoding"];
    const frames: { flags: number; message: string }[] = [];
    let at = 0;
    for (; at + 5 <= answer.body.length; ) {
      const length = answer.body.readUInt32BE(at + 1);
      if (at + 5 + length > answer.body.length) break;
      const flags = answer.body[at]!;
      const data = answer.body.subarray(at + 5, at + 5 + length);
      const plain = flags & 1 ? decompress(encoding, data) : data;
      let message = plain ? render(type, plain) : `undecodable ${encoding}:${data.toString("hex")}`;
      // gRPC-Web trailers (0x80) and Connect's end of stream (0x02) carry the request id too.
      if (plain && flags & 0x82) message = withoutGeneratedIds(plain.toString("latin1"), sentRequestId);
      frames.push({ flags, message });
      at += 5 + length;
    }
    const rest = answer.body.subarray(at);
    return { kind: "envelopes", frames, ...(rest.length > 0 ? { rest: rest.toString("hex") } : {}) };
  }
  const encoding = answer.headers["content-encoding"];
  const plain = decompress(encoding, answer.body);
  if (plain === undefined)
    return { kind: "undecodable", encoding: encoding!, hex: answer.body.toString("hex") };
  if (type.includes("json")) {
    if (answer.status === 200) return { kind: "json-text", text: plain.toString("latin1") };
    try {
      return { kind: "json", value: JSON.parse(plain.toString("utf8")) };
    } catch {
      return { kind: "json-text", text: plain.toString("latin1") };
    }
  }
  return { kind: "bytes", hex: plain.toString("hex") };
}

/**
 * What of an answer two servers must agree on: everything a client sees but `date` and the request id
 * a server made up (its presence is kept); compressed bodies are decompressed (headers and lengths are
 * still compared as sent, so compressed bytes that differ show up there), Connect errors parsed.
 */
export function normalizeAnswer(answer: WireAnswer, sentRequestId: string | undefined): NormalizedAnswer {
  return {
    status: answer.status,
    headers: normalizeHeaders(answer.headers, sentRequestId),
    trailers: normalizeHeaders(answer.trailers, sentRequestId),
    body: normalizeBody(answer, sentRequestId),
    rstCode: answer.rstCode,
    error: answer.error,
  };
}

/** Fields of a request log line that differ between two servers whatever they do. */
const VOLATILE = new Set(["time", "pid", "hostname", "ms"]);

/**
 * A request log line as two servers must agree on it: no times or process fields; the request id kept
 * only when it is the client's; an error logged with its cause compared by type and message (the stack
 * shows which path called the handler, which is the one thing allowed to differ).
 */
export function normalizeLogLine(
  line: Record<string, unknown>,
  sentRequestId: string | undefined,
): Record<string, unknown> {
  const normalized: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(line)) {
    if (VOLATILE.has(key)) continue;
    if (key === "requestId") normalized[key] = value === sentRequestId ? value : GENERATED_ID;
    else if (key === "err" && value !== null && typeof value === "object") {
      const { type, message, code } = value as Record<string, unknown>;
      normalized[key] = { type, message, code };
    } else normalized[key] = value;
  }
  return normalized;
}
