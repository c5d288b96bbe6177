import { execFile } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { promisify } from "node:util";
import { percentiles } from "./stats.js";

const run = promisify(execFile);

export interface H2loadOptions {
  url: string;
  bodyFile: string;
  headers: Record<string, string>;
  /** Connections (`-c`). */
  clients: number;
  /** Concurrent streams per connection (`-m`). */
  streams: number;
  /** Timing-based run (`-D`), seconds. */
  durationS?: number;
  /** Count-based run (`-n`), used when no duration is given. */
  requests?: number;
  /** Per-request log (`--log-file`), parsed for percentiles and then removed. */
  logFile: string;
}

export interface H2loadResult {
  /** Requests that finished (h2load "done"). */
  done: number;
  succeeded: number;
  failed: number;
  errored: number;
  status: { "2xx": number; "3xx": number; "4xx": number; "5xx": number };
  /** Throughput h2load reports (requests done / main duration). */
  rps: number;
  seconds: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
  raw: string;
}

let checked: Promise<void> | undefined;

/** Throws with the install hint when h2load is missing. */
export function ensureH2load(): Promise<void> {
  checked ??= run("h2load", ["--version"]).then(
    () => undefined,
    () => {
      throw new Error(
        "h2load not found: install it with `bash infra/install-deps.sh --with-bench` (nghttp2-client)",
      );
    },
  );
  return checked;
}

/** Runs h2load once (one thread) and parses its summary and per-request log. */
export async function h2load(opts: H2loadOptions): Promise<H2loadResult> {
  await ensureH2load();
  const args = ["-t", "1", "-c", String(opts.clients), "-m", String(opts.streams), "-d", opts.bodyFile];
  for (const [name, value] of Object.entries(opts.headers)) args.push("-H", `${name}: ${value}`);
  if (opts.durationS !== undefined) args.push("-D", String(opts.durationS));
  else args.push("-n", String(opts.requests ?? 1000));
  args.push(`--log-file=${opts.logFile}`, opts.url);
  const timeout = ((opts.durationS ?? 60) + 60) * 1000;
  const { stdout } = await run("h2load", args, { timeout, maxBuffer: 16 * 1024 * 1024 });
  const result = parseH2load(stdout);
  const durations: number[] = [];
  try {
    for (const line of readFileSync(opts.logFile, "utf8").split("\n")) {
      const cols = line.split("\t");
      if (cols.length >= 3) durations.push(Number(cols[2]) / 1000);
    }
  } finally {
    rmSync(opts.logFile, { force: true });
  }
  const { p50, p99 } = percentiles(durations);
  return { ...result, p50Ms: p50, p99Ms: p99 };
}

/** Parses h2load's text summary. Exported for tests. */
export function parseH2load(stdout: string): Omit<H2loadResult, "p50Ms" | "p99Ms"> {
  const finished = /finished in ([\d.]+)(ms|s), ([\d.]+) req\/s/.exec(stdout);
  const requests =
    /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(
      stdout,
    );
  const codes = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(stdout);
  const reqTime = /time for request:\s+\S+\s+\S+\s+([\d.]+)(us|ms|s)/.exec(stdout);
  if (!finished || !requests || !codes) throw new Error(`unexpected h2load output:\n${stdout}`);
  const unit = (value: string, u: string) => Number(value) * (u === "s" ? 1000 : u === "ms" ? 1 : 0.001);
  return {
    seconds: unit(finished[1]!, finished[2]!) / 1000,
    rps: Number(finished[3]),
    done: Number(requests[3]),
    succeeded: Number(requests[4]),
    failed: Number(requests[5]),
    errored: Number(requests[6]),
    status: {
      "2xx": Number(codes[1]),
      "3xx": Number(codes[2]),
      "4xx": Number(codes[3]),
      "5xx": Number(codes[4]),
    },
    meanMs: reqTime ? unit(reqTime[1]!, reqTime[2]!) : Number.NaN,
    raw: stdout,
  };
}
