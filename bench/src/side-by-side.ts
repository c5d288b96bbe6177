import { fmt, grid, type Row } from "./table.js";

/** One side of a comparison: a run's tables, or the rows of one Node in a `--nodes` run. */
export interface Side {
  label: string;
  tables: Record<string, Row[]>;
}

const key = (service: string, r: Row) =>
  [service, r.section, r.case, r.target, r.protocol, r.concurrency].join("|");

const arrow = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined ? "" : `${a.toFixed(2)} -> ${b.toFixed(2)}`;

/**
 * The server-only rows of two sides next to each other: calls/s and their ratio, CPU per call, and each
 * side's ratios to its own anchors (measured on the same Node in the same run), which are what survive
 * a machine shared with other work.
 */
export function sideBySide(title: string, a: Side, b: Side): string {
  const rowsB = new Map<string, Row>();
  for (const [service, rows] of Object.entries(b.tables)) for (const r of rows) rowsB.set(key(service, r), r);
  const cells: string[][] = [];
  for (const [service, rows] of Object.entries(a.tables)) {
    for (const ra of rows) {
      const rb = rowsB.get(key(service, ra));
      if (!rb || ra.rps === undefined || rb.rps === undefined || !ra.section.startsWith("server")) continue;
      const cpu =
        ra.cpuUsPerCall !== undefined && rb.cpuUsPerCall !== undefined
          ? `${fmt(ra.cpuUsPerCall)} -> ${fmt(rb.cpuUsPerCall)}`
          : "";
      // A row with errors has numbers that are not a valid result: say so next to them.
      const invalid = [
        ...(ra.status === "ok" ? [] : [`${a.label}: ${ra.status}`]),
        ...(rb.status === "ok" ? [] : [`${b.label}: ${rb.status}`]),
      ];
      cells.push([
        service,
        ra.case,
        ra.target,
        ra.protocol ?? "",
        String(ra.concurrency ?? ""),
        fmt(ra.rps),
        fmt(rb.rps),
        `${(rb.rps / ra.rps).toFixed(2)}x`,
        cpu,
        arrow(ra.vs?.bare, rb.vs?.bare),
        arrow(ra.vs?.connectEmpty, rb.vs?.connectEmpty),
        arrow(ra.vs?.grpcJs, rb.vs?.grpcJs),
        invalid.join("; "),
      ]);
    }
  }
  const l = "l" as const;
  const r = "r" as const;
  return grid(
    title,
    [
      { name: "service", align: l },
      { name: "case", align: l },
      { name: "target", align: l },
      { name: "proto", align: l },
      { name: "conc", align: r },
      { name: `${a.label} calls/s`, align: r },
      { name: `${b.label} calls/s`, align: r },
      { name: "b/a", align: r },
      { name: "cpu µs/call a -> b", align: r },
      { name: "/bare a -> b", align: r },
      { name: "/connect0 a -> b", align: r },
      { name: "/grpc-js a -> b", align: r },
      { name: "not valid", align: l },
    ],
    cells,
  );
}

/** The rows of one Node out of a run's tables. */
export function nodeSide(tables: Record<string, Row[]>, node: string): Side {
  return {
    label: node,
    tables: Object.fromEntries(
      Object.entries(tables).map(([s, rows]) => [s, rows.filter((r) => r.node === node)]),
    ),
  };
}
