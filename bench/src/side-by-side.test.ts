import { expect, test } from "vitest";
import { nodeSide, sideBySide } from "./side-by-side.js";
import { addRatios, type Row } from "./table.js";

const row = (node: string, target: string, rps: number, status = "ok"): Row => ({
  node,
  section: "server (h2load)",
  case: "Next count=1",
  target,
  method: "Next",
  protocol: "grpc",
  concurrency: 64,
  status,
  rps,
});

test("with two Nodes in one table, each row's anchor ratios use the anchors of its own Node", () => {
  const rows = [
    row("v20", "anchor: connect empty", 1000),
    row("v20", "sequence", 500),
    row("v24", "anchor: connect empty", 2000),
    row("v24", "sequence", 1500),
  ];
  addRatios(rows);
  expect(rows[1]!.vs?.connectEmpty).toBeCloseTo(0.5);
  expect(rows[3]!.vs?.connectEmpty).toBeCloseTo(0.75);

  const table = sideBySide("t", nodeSide({ sequence: rows }, "v20"), nodeSide({ sequence: rows }, "v24"));
  const line = table.split("\n").find((l) => l.startsWith("sequence") && l.includes(" sequence "));
  expect(line).toMatch(/ 500 +1500 +3\.00x .* 0\.50 -> 0\.75/);
});

test("a row with errors on either side is marked as not a valid result", () => {
  const a = { label: "v20", tables: { sequence: [row("v20", "sequence", 500)] } };
  const b = { label: "v24", tables: { sequence: [row("v24", "sequence", 900, "errors: 3 unavailable")] } };
  expect(sideBySide("t", a, b)).toContain("v24: errors: 3 unavailable");
});
