import { spawn } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type ServiceProcess, startService } from "@im-core/testkit";

/** The monorepo root; everything the tests run outside of it is checked not to reach back into it. */
export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../../../..");

export const PROTO_DIR = join(REPO, "proto");

/**
 * Starts a bundle the way an operator would: plain node on its `dist/main.js`, the bundle as working
 * directory, configuration only from the environment (none of this repository's).
 */
export function startBundle(bundle: string, env: Record<string, string>): Promise<ServiceProcess> {
  return startService({ entry: join(bundle, "dist/main.js"), cwd: bundle, isolatedEnv: true, env });
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
