import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { normalizeServiceUrl } from "../connection/settings";
import { connectedFor, formatDuration, formatTimestamp, parseIdList } from "./format";

describe("what operators read and type", () => {
  it("shows times in UTC to the second, and durations at a glance", () => {
    expect(formatTimestamp(timestampFromMs(Date.UTC(2026, 11, 2, 11, 30, 5, 900)))).toBe(
      "2026-12-02 11:30:05 UTC",
    );
    expect(formatTimestamp(undefined)).toBe("unknown");
    expect(
      [0, 59_400, 61_000, 3_600_000 + 5 * 60_000, 2 * 86_400_000 + 4 * 3_600_000].map(formatDuration),
    ).toEqual(["0 s", "59 s", "1 min", "1 h 5 min", "2 d 4 h"]);
    expect(connectedFor(timestampFromMs(1_000), 13_000)).toBe("12 s");
  });

  it("reads user ids separated by commas, spaces or new lines, each once, in order", () => {
    expect(parseIdList(" alice,bob\ncarol  alice,, ")).toEqual(["alice", "bob", "carol"]);
    expect(parseIdList("  ")).toEqual([]);
  });

  it("takes service URLs without a trailing slash and explains a wrong one", () => {
    expect(normalizeServiceUrl(" https://registry.example.com/ ")).toEqual({
      url: "https://registry.example.com",
    });
    expect(normalizeServiceUrl("http://127.0.0.1:8081")).toEqual({ url: "http://127.0.0.1:8081" });
    expect(normalizeServiceUrl("registry:8081")).toEqual({ problem: "must start with http(s)://" });
    expect(normalizeServiceUrl("not a url")).toEqual({
      problem: "is not a URL like https://registry.example.com",
    });
  });
});
