import { expect, test } from "vitest";
import { category, formatSummary, summarise } from "./cpuprofile.js";
import { parseH2load } from "./h2load.js";
import { parsePrometheus } from "./metrics.js";
import { percentiles } from "./stats.js";

test("parses h2load's summary", () => {
  const out = `finished in 1.00s, 12864.00 req/s, 503.20KB/s
requests: 12864 total, 12928 started, 12864 done, 12800 succeeded, 64 failed, 0 errored, 0 timeout
status codes: 12800 2xx, 0 3xx, 64 4xx, 0 5xx
time for request:     1.20ms     26.62ms      4.86ms      2.01ms    82.30%`;
  const r = parseH2load(out);
  expect(r.rps).toBe(12864);
  expect(r.done).toBe(12864);
  expect(r.status["4xx"]).toBe(64);
  expect(r.meanMs).toBeCloseTo(4.86);
});

test("percentiles are nearest-rank", () => {
  const values = Array.from({ length: 100 }, (_, i) => 100 - i);
  expect(percentiles(values)).toEqual({ p50: 50, p99: 99 });
});

test("parses Prometheus text", () => {
  const samples = parsePrometheus(
    '# HELP x\nrpc_calls_total{method="Next",code="ok"} 12\nprocess_resident_memory_bytes 1e6\n',
  );
  expect(samples).toEqual([
    { name: "rpc_calls_total", labels: { method: "Next", code: "ok" }, value: 12 },
    { name: "process_resident_memory_bytes", labels: {}, value: 1e6 },
  ]);
});

test("summarises a cpuprofile by self time and package", () => {
  const frame = (functionName: string, url: string) => ({
    functionName,
    url,
    lineNumber: 0,
    columnNumber: 0,
  });
  const profile = {
    nodes: [
      { id: 1, callFrame: frame("(root)", ""), children: [2, 4] },
      { id: 2, callFrame: frame("handler", "file:///w/apps/sequence/dist/x.js"), children: [3] },
      {
        id: 3,
        callFrame: frame("toBinary", "file:///w/node_modules/.pnpm/a/node_modules/@bufbuild/protobuf/x.js"),
      },
      { id: 4, callFrame: frame("(idle)", "") },
    ],
    samples: [3, 3, 2, 4, 4],
    timeDeltas: [0, 1000, 1000, 1000, 1000],
    startTime: 0,
    endTime: 5000,
  };
  const s = summarise(profile);
  expect(s.idleMs).toBe(1);
  expect(s.categories[0]).toEqual({ name: "@bufbuild/protobuf", selfMs: 2 });
  expect(s.functions.find((f) => f.name === "handler")).toMatchObject({ selfMs: 1, totalMs: 3 });
  expect(formatSummary(s)).toContain("toBinary");
  expect(category("node:internal/http2/core", "x")).toBe("node internals");
});
