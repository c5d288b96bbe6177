import { type ChildProcess, spawn } from "node:child_process";
import { get } from "node:http";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The monorepo root; everything the tests run outside of it is checked not to reach back into it. */
export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../../../..");

export const PROTO_DIR = join(REPO, "proto");

/**
 * The environment a process would have on a machine without this repository: pnpm and vitest put
 * npm_config_*, NODE_OPTIONS and a PATH full of workspace bins into ours, and any of them could make
 * a bundle or an npm install work here for the wrong reason.
 */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const keep = ["HOME", "TMPDIR", "LANG", "TZ"];
  const env: NodeJS.ProcessEnv = {
    PATH: (process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin")
      .split(":")
      .filter((entry) => !entry.includes("node_modules"))
      .join(":"),
  };
  for (const name of keep) if (process.env[name] !== undefined) env[name] = process.env[name];
  return { ...env, ...extra };
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion; rejects with its output when it fails, so the test shows why. */
export function run(
  command: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd ?? REPO,
      env: options.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
      timeout: options.timeoutMs ?? 120_000,
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
    });
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    child.on("error", reject);
    child.on("close", (code) => {
      const result = { code, stdout, stderr };
      if (code === 0) resolvePromise(result);
      else
        reject(
          new Error(
            `${command} ${args.join(" ")} exited ${code}\n${stdout.slice(-4000)}\n${stderr.slice(-4000)}`,
          ),
        );
    });
  });
}

export interface ServiceProcess {
  readonly url: string;
  readonly pid: number;
  logs(): string;
  /** SIGTERM, then the exit code (SIGKILL and null when it does not stop in time). */
  stop(timeoutMs?: number): Promise<number | null>;
}

/**
 * Starts `node <bundle>/dist/main.js` the way an operator would: plain node, the bundle as working
 * directory, configuration only from the environment. Resolves once GET /healthz answers 200.
 */
export async function startService(bundle: string, env: Record<string, string>): Promise<ServiceProcess> {
  const child = spawn(process.execPath, [join(bundle, "dist/main.js")], {
    cwd: bundle,
    env: cleanEnv({ HOST: "127.0.0.1", LOG_LEVEL: "warn", ...env }),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const append = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000);
  };
  child.stdout!.on("data", append);
  child.stderr!.on("data", append);
  const exited = new Promise<number | null>((resolveExit) => child.on("exit", (code) => resolveExit(code)));
  const url = `http://127.0.0.1:${env.PORT}`;
  const service: ServiceProcess = {
    url,
    pid: child.pid!,
    logs: () => output,
    stop: (timeoutMs = 20_000) => stopChild(child, exited, timeoutMs),
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) {
      throw new Error(`${bundle} exited with ${child.exitCode} during start-up:\n${output}`);
    }
    if ((await httpStatus(`${url}/healthz`).catch(() => 0)) === 200) return service;
    if (Date.now() > deadline) {
      await service.stop(1_000);
      throw new Error(`${bundle} did not answer /healthz within 30 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * GET over a connection of its own that closes after the answer. fetch keeps idle connections open,
 * and a service shutting down waits for those up to its grace period, which would slow every stop.
 */
export function httpStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolveStatus, reject) => {
    const request = get(url, { agent: false, headers, timeout: 2_000 }, (response) => {
      response.resume();
      resolveStatus(response.statusCode ?? 0);
    });
    request.on("timeout", () => request.destroy(new Error(`${url} timed out`)));
    request.on("error", reject);
  });
}

async function stopChild(
  child: ChildProcess,
  exited: Promise<number | null>,
  timeoutMs: number,
): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  child.kill("SIGTERM");
  const timer = new Promise<"timeout">((r) => setTimeout(() => r("timeout"), timeoutMs).unref());
  const result = await Promise.race([exited, timer]);
  if (result !== "timeout") return result;
  child.kill("SIGKILL");
  await exited;
  return null;
}
