/** One measured (or not measurable) case. Everything optional except what identifies the row. */
export interface Row {
  section: string;
  case: string;
  /** What served the calls: the service, an anchor, redis, etcd. */
  target: string;
  /** RPC method, for matching anchors. */
  method?: string;
  protocol?: string;
  concurrency?: number;
  /** "ok", "UNIMPLEMENTED", "ERROR <code>: ...", "errors: ...", "skipped: ...". */
  status: string;
  requests?: number;
  rps?: number;
  /** Useful units per second (numbers, users, events), with `unit` naming them. */
  unitsPerSec?: number;
  unit?: string;
  p50Ms?: number;
  p99Ms?: number;
  cpuUsPerCall?: number;
  /** Throughput of this row divided by the anchor's at the same protocol and concurrency. */
  vs?: { bare?: number; connectEmpty?: number; grpcJs?: number };
  /** `node -v` of the server processes (services and anchors) that served this row. */
  node?: string;
  /** 1-minute load average when the row finished (the machine is shared: read numbers with it). */
  load1?: number;
  /** Anything else worth reporting (MySQL writes, memory, ...). */
  notes?: Record<string, string | number>;
}

export function fmt(value: number | undefined, digits = 0): string {
  if (value === undefined || Number.isNaN(value)) return "";
  if (Math.abs(value) >= 10_000) return Math.round(value).toLocaleString("en-US");
  return value.toFixed(digits);
}

function ratio(value: number | undefined): string {
  return value === undefined || Number.isNaN(value) ? "" : `${value.toFixed(2)}x`;
}

function notes(row: Row): string {
  return Object.entries(row.notes ?? {})
    .map(([k, v]) => `${k}=${typeof v === "number" ? fmt(v, v < 10 ? 2 : 0) : v}`)
    .join(" ");
}

type Column = [string, (r: Row) => string, "l" | "r"];
const nodeColumn: Column = ["node", (r) => r.node ?? "", "l"];
const columns: Column[] = [
  ["section", (r) => r.section, "l"],
  ["case", (r) => r.case, "l"],
  ["target", (r) => r.target, "l"],
  ["proto", (r) => r.protocol ?? "", "l"],
  ["conc", (r) => (r.concurrency === undefined ? "" : String(r.concurrency)), "r"],
  ["status", (r) => r.status, "l"],
  ["calls/s", (r) => fmt(r.rps), "r"],
  ["units/s", (r) => (r.unitsPerSec === undefined ? "" : `${fmt(r.unitsPerSec)} ${r.unit ?? ""}`), "r"],
  ["p50 ms", (r) => fmt(r.p50Ms, 2), "r"],
  ["p99 ms", (r) => fmt(r.p99Ms, 2), "r"],
  ["cpu µs/call", (r) => fmt(r.cpuUsPerCall), "r"],
  ["/bare", (r) => ratio(r.vs?.bare), "r"],
  ["/connect0", (r) => ratio(r.vs?.connectEmpty), "r"],
  ["/grpc-js", (r) => ratio(r.vs?.grpcJs), "r"],
  ["notes", notes, "l"],
];

/** A plain-text table, one line per row; a `node` column when the rows come from more than one Node. */
export function renderTable(title: string, rows: Row[]): string {
  const cols = new Set(rows.map((r) => r.node)).size > 1 ? [nodeColumn, ...columns] : columns;
  return grid(
    title,
    cols.map(([name, , align]) => ({ name, align })),
    rows.map((r) => cols.map(([, get]) => get(r))),
  );
}

/** Columns named and aligned, cells padded to the widest, under a `== title ==` line. */
export function grid(title: string, header: { name: string; align: "l" | "r" }[], cells: string[][]): string {
  const widths = header.map(({ name }, i) => Math.max(name.length, ...cells.map((c) => c[i]!.length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => (header[i]!.align === "r" ? v.padStart(widths[i]!) : v.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [
    `== ${title} ==`,
    line(header.map(({ name }) => name)),
    line(widths.map((w) => "-".repeat(w))),
    ...cells.map(line),
  ].join("\n");
}

/**
 * Fills `vs` of every service row from the anchors measured with the same method, protocol and
 * concurrency, on the same Node.
 */
export function addRatios(rows: Row[]): void {
  const anchor = (target: string, row: Row) =>
    rows.find(
      (a) =>
        a.target === target &&
        a.node === row.node &&
        a.method === row.method &&
        a.protocol === row.protocol &&
        a.concurrency === row.concurrency &&
        a.rps !== undefined,
    )?.rps;
  for (const row of rows) {
    if (row.rps === undefined || row.target.startsWith("anchor") || row.method === undefined) continue;
    if (!row.section.startsWith("server")) continue;
    const bare = anchor("anchor: bare http2", row);
    const empty = anchor("anchor: connect empty", row);
    const grpcJs = anchor("anchor: grpc-js", row);
    row.vs = {
      ...(bare ? { bare: row.rps / bare } : {}),
      ...(empty ? { connectEmpty: row.rps / empty } : {}),
      ...(grpcJs ? { grpcJs: row.rps / grpcJs } : {}),
    };
  }
}
