import { invalidArgument } from "@im-core/service-kit";

// Opaque to clients; versioned so the format can change without misreading old tokens.
const PREFIX = "s1:";
const ROW_ID = /^[0-9a-f]{64}$/;

/** The position after the last row of a page. */
export function encodePageToken(afterId: string): string {
  return Buffer.from(`${PREFIX}${afterId}`).toString("base64url");
}

/** The row id a token points after; undefined for the first page. */
export function decodePageToken(field: string, token: string): string | undefined {
  if (token === "") return undefined;
  const text = Buffer.from(token, "base64url").toString();
  const afterId = text.slice(PREFIX.length);
  if (!text.startsWith(PREFIX) || !ROW_ID.test(afterId) || encodePageToken(afterId) !== token) {
    throw invalidArgument(field, "is not a token from a previous response");
  }
  return afterId;
}
