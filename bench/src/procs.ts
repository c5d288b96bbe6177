import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { openSync, readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { httpGet } from "./metrics.js";
import { sleep } from "./stats.js";

const CLK_TCK = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** User + system CPU time of process `pid` in milliseconds, from /proc/<pid>/stat (10 ms resolution). */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The command name (field 2) may contain spaces; fields after it start at ") ".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // fields[0] is field 3 (state); utime is field 14, stime field 15.
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / CLK_TCK;
}

/** Resident set size of `pid` in bytes, from /proc/<pid>/status. */
export function rssBytes(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match ? Number(match[1]) * 1024 : Number.NaN;
}

export interface ChildServer {
  readonly name: string;
  readonly pid: number;
  readonly port: number;
  readonly baseUrl: string;
  readonly logFile: string;
  cpuMs(): number;
  /** SIGTERM, then SIGKILL after `graceMs`. Resolves once the process exited. */
  stop(graceMs?: number): Promise<void>;
}

interface SpawnOptions {
  name: string;
  node: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  logFile: string;
  port: number;
  /** How to know the server is ready: a stdout line matching, or GET <path> answering 200. */
  ready: { line: RegExp } | { path: string };
  timeoutMs?: number;
}

const children = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of children) child.kill("SIGKILL");
});

/** Starts one server in its own `node` process (we keep its pid: no shell, no pnpm in between). */
export async function spawnServer(opts: SpawnOptions): Promise<ChildServer> {
  const log = openSync(opts.logFile, "a");
  const readyByLine = "line" in opts.ready;
  const child = spawn(opts.node, opts.args, {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    stdio: ["ignore", readyByLine ? "pipe" : log, log],
  });
  children.add(child);
  let exited: { code: number | null; signal: string | null } | undefined;
  const exitPromise = new Promise<void>((resolve) =>
    child.once("exit", (code, signal) => {
      exited = { code, signal };
      children.delete(child);
      resolve();
    }),
  );
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${opts.name}: could not spawn ${opts.node}`);
  const baseUrl = `http://127.0.0.1:${opts.port}`;
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  const failure = (why: string) => {
    child.kill("SIGKILL");
    let tail = "";
    try {
      tail = readFileSync(opts.logFile, "utf8").split("\n").slice(-15).join("\n");
    } catch {}
    return new Error(`${opts.name} ${why}; last log lines (${opts.logFile}):\n${tail}`);
  };
  if ("line" in opts.ready) {
    const pattern = opts.ready.line;
    const lines = createInterface({ input: child.stdout! });
    const seen = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), deadline - Date.now());
      lines.on("line", (line) => {
        if (pattern.test(line)) {
          clearTimeout(timer);
          resolve(true);
        }
      });
      void exitPromise.then(() => resolve(false));
    });
    lines.on("line", () => {});
    if (!seen) throw failure(exited ? `exited (${JSON.stringify(exited)})` : "did not become ready");
  } else {
    const path = opts.ready.path;
    for (;;) {
      if (exited) throw failure(`exited (${JSON.stringify(exited)})`);
      try {
        if ((await httpGet(`${baseUrl}${path}`, 1000)).status === 200) break;
      } catch {}
      if (Date.now() > deadline) throw failure("did not become ready");
      await sleep(100);
    }
  }
  return {
    name: opts.name,
    pid,
    port: opts.port,
    baseUrl,
    logFile: opts.logFile,
    cpuMs: () => cpuMs(pid),
    async stop(graceMs = 15_000) {
      if (exited) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      await exitPromise;
      clearTimeout(timer);
    },
  };
}
