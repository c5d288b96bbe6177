import { Code, ConnectError } from "@connectrpc/connect";
import type { LoadResult } from "./loadgen.js";
import type { Row } from "./table.js";

/** The result of calling an RPC once before measuring it. */
export type Preflight = { ok: true } | { ok: false; status: string };

/** Calls `fn` once: UNIMPLEMENTED and other failures become a row status instead of a fast "result". */
export async function preflight(fn: () => Promise<unknown>): Promise<Preflight> {
  try {
    await fn();
    return { ok: true };
  } catch (error) {
    const e = ConnectError.from(error);
    if (e.code === Code.Unimplemented) return { ok: false, status: "UNIMPLEMENTED" };
    return { ok: false, status: `ERROR ${Code[e.code]}: ${e.rawMessage.slice(0, 80)}` };
  }
}

/** Extra measurements around a run (MySQL counters, memory), reported in `notes`. */
export interface Around {
  // biome-ignore lint/suspicious/noExplicitAny: opaque state handed from before() to after()
  before(): Promise<any>;
  // biome-ignore lint/suspicious/noExplicitAny: see above
  after(state: any, calls: number): Promise<Record<string, string | number>>;
}

/** A row from a closed-loop result: errors by code become the status. */
export function loadRow(
  args: {
    section: string;
    case: string;
    target: string;
    method?: string;
    protocol?: string;
    concurrency: number;
  },
  result: LoadResult,
  cpuMsUsed: number | undefined,
  units?: { perCall: number; name: string },
): Row {
  const errors = Object.entries(result.errors);
  let status = "ok";
  if (errors.length > 0) {
    const unimplemented = result.errors.Unimplemented ?? 0;
    status =
      unimplemented === result.requests
        ? "UNIMPLEMENTED"
        : `errors: ${errors.map(([c, n]) => `${n} ${c}`).join(", ")} (${result.firstError ?? ""})`.slice(
            0,
            120,
          );
  }
  const measured = result.ok > 0;
  return {
    section: args.section,
    case: args.case,
    target: args.target,
    ...(args.method ? { method: args.method } : {}),
    ...(args.protocol ? { protocol: args.protocol } : {}),
    concurrency: args.concurrency,
    status,
    requests: result.requests,
    ...(measured
      ? {
          rps: result.rps,
          p50Ms: result.p50Ms,
          p99Ms: result.p99Ms,
          ...(cpuMsUsed !== undefined && result.requests > 0
            ? { cpuUsPerCall: (cpuMsUsed * 1000) / result.requests }
            : {}),
          ...(units ? { unitsPerSec: (result.ok / result.seconds) * units.perCall, unit: units.name } : {}),
        }
      : {}),
  };
}

/** Rows for a case that could not be measured because its RPC does not work yet. */
export function notMeasured(row: Omit<Row, "status">, pre: Preflight): Row {
  return { ...row, status: pre.ok ? "ok" : pre.status };
}
