import fc from "fast-check";

/** Longest valid ID or gateway address, in UTF-8 bytes (docs/api.md, "Request limits"). */
export const ID_MAX_BYTES = 256;

// Unicode general category Cc: the only characters the API forbids in an ID.
const CONTROL = /\p{Cc}/u;
// A lone surrogate has no UTF-8 encoding, so it cannot be a valid ID either.
const LONE_SURROGATE = /\p{Cs}/u;

/** The rule `idArb` and `invalidIdArb` follow: non-empty, ≤ 256 UTF-8 bytes, no Cc character. */
export function isValidId(id: string): boolean {
  return (
    id.length > 0 &&
    Buffer.byteLength(id, "utf8") <= ID_MAX_BYTES &&
    !CONTROL.test(id) &&
    !LONE_SURROGATE.test(id)
  );
}

/** Cuts at a code point boundary so the result stays well-formed UTF-8 within `maxBytes`. */
function truncateUtf8(s: string, maxBytes: number): string {
  let out = "";
  let bytes = 0;
  for (const ch of s) {
    const size = Buffer.byteLength(ch, "utf8");
    if (bytes + size > maxBytes) break;
    out += ch;
    bytes += size;
  }
  return out;
}

/** Characters that break naive key encodings, URL handling, or byte/length arithmetic. */
const NASTY = [
  "/",
  "%",
  ":",
  " ",
  "\\",
  "|",
  "%2F",
  "..",
  "*",
  "?",
  "#",
  "'",
  '"',
  "\u00a0", // no-break space
  "\u200b", // zero-width space
  "\ufeff", // byte order mark
  "\u0301", // combining acute accent, also at the start of an ID
  "e\u0301",
  "é",
  "中",
  "😀",
  "👍🏽",
  "👩‍👩‍👧", // ZWJ sequence
  "𝔘", // 4-byte character outside the BMP
  "𐍈",
];

const unit: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.constantFrom(...NASTY), weight: 4 },
  { arbitrary: fc.constantFrom(..."abcxyzABC019-_.@"), weight: 4 },
  { arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 1 }), weight: 2 },
);

/**
 * Valid IDs (user, device, conversation): non-empty, at most 256 UTF-8 bytes, no control character (Cc),
 * biased towards `/ % : space \ |`, emoji, combining marks and 4-byte characters, and towards the
 * 256-byte limit itself.
 */
export const idArb: fc.Arbitrary<string> = fc
  .oneof(
    { arbitrary: fc.string({ unit, minLength: 1, maxLength: 24 }), weight: 6 },
    { arbitrary: fc.string({ unit, minLength: 1, maxLength: 200 }), weight: 2 },
    {
      arbitrary: fc.constantFrom("a".repeat(256), "😀".repeat(64), `${"é".repeat(127)}ab`, "/", "%", " "),
      weight: 1,
    },
  )
  .map((s) => truncateUtf8(s.replace(/\p{Cc}/gu, ""), ID_MAX_BYTES))
  .filter((s) => s.length > 0);

const CONTROL_CHARS = ["\u0000", "\n", "\r", "\t", "\u001b", "\u007f", "\u0085", "\u009f"];

/**
 * Invalid IDs: empty, longer than 256 UTF-8 bytes (including strings of at most 256 UTF-16 code units
 * that exceed 256 bytes), or containing a control character (`\u0000`, `\n`, `\u007f`, `\u0085`, ...).
 */
export const invalidIdArb: fc.Arbitrary<string> = fc.oneof(
  fc.constant(""),
  fc.string({ unit, minLength: 1, maxLength: 40 }).map((s) => `${"x".repeat(257)}${s}`),
  fc.integer({ min: 129, max: 200 }).map((n) => "é".repeat(n)),
  fc.integer({ min: 65, max: 100 }).map((n) => "😀".repeat(n)),
  fc
    .tuple(idArb, fc.constantFrom(...CONTROL_CHARS), idArb)
    .map(([a, c, b]) => `${truncateUtf8(a, 100)}${c}${truncateUtf8(b, 100)}`),
);

const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,14}[a-z0-9])?$/);

/**
 * Gateway node addresses as gateways would send them (non-empty, ASCII, at most 256 bytes):
 * `host:port`, `ipv4:port`, `[ipv6]:port`, `http(s)://host:port`, or a bare pod name.
 */
export const gatewayArb: fc.Arbitrary<string> = fc
  .oneof(
    fc
      .tuple(fc.array(label, { minLength: 1, maxLength: 4 }), fc.nat({ max: 65535 }))
      .map(([l, p]) => `${l.join(".")}:${p}`),
    fc.tuple(fc.ipV4(), fc.nat({ max: 65535 })).map(([ip, p]) => `${ip}:${p}`),
    fc.tuple(fc.ipV6(), fc.nat({ max: 65535 })).map(([ip, p]) => `[${ip}]:${p}`),
    fc
      .tuple(fc.constantFrom("http", "https"), fc.domain(), fc.nat({ max: 65535 }))
      .map(([s, d, p]) => `${s}://${d}:${p}`),
    label.map((l) => `gateway-${l}`),
    fc.constant(`gw-${"a".repeat(253)}`),
  )
  .filter((s) => s.length > 0 && Buffer.byteLength(s) <= ID_MAX_BYTES);
