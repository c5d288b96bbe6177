import { Code, ConnectError } from "@connectrpc/connect";

/** Longest ID in UTF-8 bytes (docs/api.md, "Request limits"). */
export const ID_MAX_BYTES = 256;

const CONTROL = /\p{Cc}/u;
// With the u flag only unpaired surrogates match: a paired one is part of an astral code point.
const LONE_SURROGATE = /\p{Cs}/u;

/** An INVALID_ARGUMENT error whose message starts with the field's path, e.g. `items[3].count: ...`. */
export function invalidArgument(field: string, problem: string): ConnectError {
  return new ConnectError(`${field}: ${problem}`, Code.InvalidArgument);
}

/**
 * Checks an ID (user, device, group): non-empty, well-formed (no lone surrogate, which has no UTF-8
 * form), no control character, at most 256 UTF-8 bytes. Throws {@link invalidArgument} naming `field`.
 */
export function validateId(field: string, value: string): void {
  if (value.length === 0) throw invalidArgument(field, "must not be empty");
  if (LONE_SURROGATE.test(value))
    throw invalidArgument(field, "must be valid UTF-8 (found a lone surrogate)");
  if (CONTROL.test(value)) throw invalidArgument(field, "must not contain control characters");
  const bytes = Buffer.byteLength(value, "utf8");
  if (bytes > ID_MAX_BYTES)
    throw invalidArgument(field, `must be at most ${ID_MAX_BYTES} bytes of UTF-8 (got ${bytes})`);
}
