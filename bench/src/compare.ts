// Compares two result files row by row (same service, case, target, protocol, concurrency):
//   node --import tsx src/compare.ts out/<a>.json out/<b>.json
// From a run with several Nodes (`--node24`, `--nodes`) it takes the first Node's rows; given alone, such
// a file prints its own side-by-side table again.
import { readFileSync } from "node:fs";
import { nodeSide, sideBySide } from "./side-by-side.js";
import type { Row } from "./table.js";

interface Report {
  meta: { serverNode: string; serverNodes?: string[] };
  tables: Record<string, Row[]>;
}

const read = (f: string) => JSON.parse(readFileSync(f, "utf8")) as Report;
// Rows of files written before rows named their Node have no `node`: they are all the run's one Node.
const side = (r: Report, node = r.meta.serverNode) =>
  nodeSide(
    Object.fromEntries(
      Object.entries(r.tables).map(([s, rows]) => [
        s,
        rows.map((row) => ({ ...row, node: row.node ?? node })),
      ]),
    ),
    node,
  );

const [fileA, fileB] = process.argv.slice(2);
if (fileA && fileB) {
  console.log(sideBySide(`server-only, ${fileA} -> ${fileB}`, side(read(fileA)), side(read(fileB))));
} else if (fileA) {
  const report = read(fileA);
  const [first, ...others] = report.meta.serverNodes ?? [];
  if (!first) throw new Error(`${fileA} has one Node: give a second file to compare it with`);
  for (const node of others) {
    console.log(sideBySide(`server-only, ${first} -> ${node}`, side(report, first), side(report, node)));
  }
}
