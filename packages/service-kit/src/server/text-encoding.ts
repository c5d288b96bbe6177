import { configureTextEncoding, getTextEncoding } from "@bufbuild/protobuf/wire";

let configured = false;

/**
 * protobuf-es encodes every string field with `TextEncoder.encode`, about 1.1–1.5 µs per short
 * string here against 0.25 µs for `Buffer.from`, and a Lookup answer is mostly short strings. Same
 * bytes (both write U+FFFD for a lone surrogate); decoding and validation stay protobuf-es's own.
 * Process-wide: a service's main.ts opts in at start-up, so nothing else changes it behind a caller's back.
 */
export function useNodeTextEncoding(): void {
  if (configured) return;
  configured = true;
  const defaults = getTextEncoding();
  configureTextEncoding({
    ...defaults,
    encodeUtf8: (text) => {
      const bytes = Buffer.from(text, "utf8");
      return new Uint8Array(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength);
    },
  });
}
