// Compares two result files row by row (same service, case, target, protocol, concurrency):
//   node --import tsx src/compare.ts out/<a>.json out/<b>.json
import { readFileSync } from "node:fs";
import type { Row } from "./table.js";

interface Report {
  meta: { serverNode: string };
  tables: Record<string, Row[]>;
}

const key = (service: string, r: Row) =>
  [service, r.section, r.case, r.target, r.protocol, r.concurrency].join("|");

export function compare(a: Report, b: Report): string {
  const lines = [
    `service   case                            target                 proto    conc  ${a.meta.serverNode.padStart(9)}  ${b.meta.serverNode.padStart(9)}   b/a  cpu µs a->b`,
  ];
  const rowsB = new Map<string, Row>();
  for (const [service, rows] of Object.entries(b.tables)) for (const r of rows) rowsB.set(key(service, r), r);
  for (const [service, rows] of Object.entries(a.tables)) {
    for (const ra of rows) {
      const rb = rowsB.get(key(service, ra));
      if (!rb || ra.rps === undefined || rb.rps === undefined || !ra.section.startsWith("server")) continue;
      const cpu =
        ra.cpuUsPerCall !== undefined && rb.cpuUsPerCall !== undefined
          ? `${Math.round(ra.cpuUsPerCall)} -> ${Math.round(rb.cpuUsPerCall)}`
          : "";
      lines.push(
        [
          service.padEnd(8),
          ra.case.padEnd(30),
          ra.target.padEnd(21),
          (ra.protocol ?? "").padEnd(7),
          String(ra.concurrency ?? "").padStart(4),
          String(Math.round(ra.rps)).padStart(9),
          String(Math.round(rb.rps)).padStart(9),
          `${(rb.rps / ra.rps).toFixed(2)}x`.padStart(5),
          cpu,
        ].join("  "),
      );
    }
  }
  return lines.join("\n");
}

const [fileA, fileB] = process.argv.slice(2);
if (fileA && fileB) {
  const read = (f: string) => JSON.parse(readFileSync(f, "utf8")) as Report;
  console.log(compare(read(fileA), read(fileB)));
}
