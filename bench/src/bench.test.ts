// CI smoke: the quick bench end to end (real etcd, Redis, MariaDB, both services, h2load). It checks only
// that both tables come out with numbers; no timing is asserted (the machine is shared and noisy).
import { existsSync, readFileSync } from "node:fs";
import { expect, test } from "vitest";
import { parseArgs } from "./options.js";
import { runBench } from "./run.js";
import type { Row } from "./table.js";

test("pnpm bench --quick prints a table per service with numbers", async () => {
  const lines: string[] = [];
  const report = await runBench(parseArgs(["--quick"]), (line) => lines.push(line));

  expect(report.text).toContain("== sequence");
  expect(report.text).toContain("== registry");
  expect(existsSync(report.file)).toBe(true);
  const written = JSON.parse(readFileSync(report.file, "utf8")) as { tables: Record<string, Row[]> };
  for (const service of ["sequence", "registry"]) {
    const rows = written.tables[service]!;
    expect(rows.length).toBeGreaterThan(5);
    // Every row either has numbers or says honestly why not (UNIMPLEMENTED, ERROR ..., errors: ...).
    for (const row of rows) {
      if (row.status === "ok")
        expect(row.rps ?? row.unitsPerSec, `${service} ${row.case}`).toBeGreaterThan(0);
      else expect(row.status).toMatch(/^(UNIMPLEMENTED|ERROR|errors:|skipped:)/);
    }
    // The anchors measure the machine itself: they always have numbers.
    const anchors = rows.filter((r) => r.target.startsWith("anchor:"));
    expect(anchors.length).toBeGreaterThanOrEqual(3);
    for (const anchor of anchors) expect(anchor.rps).toBeGreaterThan(0);
  }
});
