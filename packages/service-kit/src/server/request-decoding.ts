import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";

/**
 * Where a request's bytes become a message, and what is refused there:
 *
 * - binary (Connect binary, gRPC, gRPC-Web): protobuf-es's `fromBinary` already refuses a string field
 *   that is not UTF-8 (proto3 strings are `utf8_validation = VERIFY`: a fatal TextDecoder), and any
 *   malformed body. Connect wraps both as "parse binary: ..."; our patch of @connectrpc/connect
 *   (patches/) makes that INVALID_ARGUMENT for a request instead of INTERNAL.
 * - JSON: Connect decodes the body with a lenient TextDecoder (invalid bytes become U+FFFD, so
 *   `"G\xe9"` and `"G\xe8"` would be one ID) before protobuf-es parses it; {@link requestJsonOptions}
 *   swaps in a fatal one, and refuses unknown enum names (and unknown keys) instead of dropping them.
 * - Connect GET: the message is in the query string, which URLSearchParams decodes leniently;
 *   {@link queryEncodingInterceptor} refuses a query that is not UTF-8 once percent-decoded.
 */

/** Offset of the first byte that does not start a well-formed UTF-8 sequence; -1 if all of it is UTF-8. */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const lead = bytes[i]!;
    if (lead < 0x80) {
      i += 1;
      continue;
    }
    // Unicode 15, table 3-7: the range of the second byte depends on the lead (no overlong forms,
    // no surrogates, nothing above U+10FFFF); the others are 80..BF.
    let continuations: number;
    let low = 0x80;
    let high = 0xbf;
    if (lead >= 0xc2 && lead <= 0xdf) continuations = 1;
    else if (lead >= 0xe0 && lead <= 0xef) {
      continuations = 2;
      if (lead === 0xe0) low = 0xa0;
      if (lead === 0xed) high = 0x9f;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      continuations = 3;
      if (lead === 0xf0) low = 0x90;
      if (lead === 0xf4) high = 0x8f;
    } else return i;
    if (i + continuations >= bytes.length) return i;
    const second = bytes[i + 1]!;
    if (second < low || second > high) return i;
    for (let k = 2; k <= continuations; k += 1) {
      const next = bytes[i + k]!;
      if (next < 0x80 || next > 0xbf) return i;
    }
    i += continuations + 1;
  }
  return -1;
}

const fatalUtf8 = new TextDecoder("utf-8", { fatal: true });

/** Connect's JSON text decoder, but a request that is not UTF-8 is refused rather than repaired. */
export const strictUtf8Decoder = {
  decode(input?: Uint8Array): string {
    try {
      return fatalUtf8.decode(input);
    } catch {
      const at = input ? firstInvalidUtf8(input) : -1;
      throw new ConnectError(
        `the JSON request message is not valid UTF-8 (byte ${at})`,
        Code.InvalidArgument,
      );
    }
  },
};

/**
 * JSON options for the server's Connect router (`jsonOptions`). `textDecoder` is read by Connect's JSON
 * serialization though its handler options type does not list it. `ignoreUnknownFields: false` is the
 * protobuf JSON default: Connect turns it on, and with it protobuf-es silently drops an unknown enum
 * name (`{"type":"BOGUS"}` read as "no filter"); off, both an unknown name and an unknown key are
 * refused (INVALID_ARGUMENT). Unknown enum numbers stay the handlers' to refuse (open proto3 enums).
 */
export const requestJsonOptions = {
  ignoreUnknownFields: false,
  textDecoder: strictUtf8Decoder,
};

/**
 * Refuses a Connect GET call whose query string is not UTF-8 once percent-decoded (`?message=%E9`):
 * URLSearchParams would hand Connect U+FFFD instead. Other calls carry their message in the body.
 */
export function queryEncodingInterceptor(): Interceptor {
  // Not an async function: calls with a body (all but Connect GET) pass with no promise of their own.
  return (next) => (request) => {
    if (request.requestMethod === "GET") refuseQueryNotUtf8(request.url);
    return next(request);
  };
}

function refuseQueryNotUtf8(url: string): void {
  const query = url.indexOf("?");
  if (query < 0) return;
  for (const parameter of url.slice(query + 1).split("&")) {
    try {
      decodeURIComponent(parameter.replaceAll("+", " "));
    } catch {
      const name = parameter.split("=", 1)[0]!.slice(0, 32);
      throw new ConnectError(
        `query parameter "${name}" is not valid UTF-8 once percent-decoded`,
        Code.InvalidArgument,
      );
    }
  }
}
