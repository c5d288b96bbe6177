import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { DeviceLocationSchema } from "@im-core/proto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { useNodeTextEncoding } from "./text-encoding.js";

describe("Buffer-based UTF-8 encoding for protobuf strings", () => {
  it("writes exactly the bytes TextEncoder writes, for any string", () => {
    const reference = (text: string) =>
      toBinary(DeviceLocationSchema, create(DeviceLocationSchema, { userId: text, deviceId: "d" }));
    const samples = fc.sample(fc.string({ unit: "binary", maxLength: 64 }), 300);
    samples.push("", "ü/🙂", "\ud800", "a\udc00b", "x".repeat(5_000));
    const before = samples.map(reference);
    useNodeTextEncoding();
    samples.forEach((text, i) => {
      const bytes = reference(text);
      expect(Buffer.from(bytes).equals(Buffer.from(before[i]!))).toBe(true);
      expect(fromBinary(DeviceLocationSchema, bytes).deviceId).toBe("d");
    });
  });
});
