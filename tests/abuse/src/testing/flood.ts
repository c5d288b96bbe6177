import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

export interface FloodOptions {
  /** Requests in flight at once (each worker sends its next one when the last was answered). */
  concurrency: number;
  /** The flood stops sending after this long... */
  durationMs: number;
  /** ...or after this many requests, whichever comes first: every load is bounded in count and time. */
  maxRequests: number;
}

export interface FloodResult {
  sent: number;
  /** Answers by HTTP status (or `"error"` for a request that got no answer). */
  byStatus: Record<string, number>;
  elapsedMs: number;
}

/** Runs `send` from `concurrency` workers until the time or count bound is reached; tallies the outcomes. */
export async function flood(
  options: FloodOptions,
  send: () => Promise<number | string>,
): Promise<FloodResult> {
  const started = performance.now();
  const byStatus: Record<string, number> = {};
  let sent = 0;
  const worker = async () => {
    while (sent < options.maxRequests && performance.now() - started < options.durationMs) {
      sent += 1;
      const status = await send().catch(() => "error");
      byStatus[status] = (byStatus[status] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  return { sent, byStatus, elapsedMs: performance.now() - started };
}

const clockTicksPerSecond = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());

/** CPU time (user + system) the process `pid` has used so far, in ms, from `/proc/<pid>/stat`. */
export function cpuTimeMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may hold spaces, inside parentheses): utime and stime are
  // the 14th and 15th of the whole line, so the 12th and 13th after ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1_000) / clockTicksPerSecond;
}
