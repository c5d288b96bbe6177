import { execFile } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

const binaryCache = new Map<string, string>();

/**
 * Absolute path of an executable, searched in PATH and the sbin dirs (mariadbd lives in /usr/sbin, which a
 * non-root PATH lacks). Throws an error naming the Debian package and the project's install script.
 */
export function resolveBinary(name: string, debianPackage: string): string {
  const cached = binaryCache.get(name);
  if (cached) return cached;
  const dirs = [...(process.env.PATH ?? "").split(delimiter), "/usr/local/sbin", "/usr/sbin", "/sbin"];
  for (const dir of dirs) {
    if (!dir) continue;
    const path = join(dir, name);
    try {
      accessSync(path, constants.X_OK);
      binaryCache.set(name, path);
      return path;
    } catch {
      // try the next dir
    }
  }
  throw new Error(
    `${name} not found in PATH or /usr/sbin. Install the Debian package ${debianPackage} ` +
      `(apt-get install -y ${debianPackage}) or run \`bash infra/install-deps.sh\` from the repository root.`,
  );
}

/** Runs a helper binary to completion; rejects with its stderr. */
export function run(
  binary: string,
  args: readonly string[],
  opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv; input?: string } = {},
): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = execFile(
      binary,
      args,
      { timeout: opts.timeoutMs ?? 30_000, env: opts.env ?? process.env, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) {
          reject(new Error(`${binary} ${args.join(" ")} failed: ${stderr.trim() || error.message}`));
        } else {
          resolvePromise(stdout);
        }
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}
