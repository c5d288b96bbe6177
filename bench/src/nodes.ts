import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const repo = fileURLToPath(new URL("../..", import.meta.url));

/** The project-local Node 24 that `scripts/setup --with-node24` installs (the version is pinned there). */
export function projectNode24(): string {
  try {
    const bin = execFileSync("bash", [join(repo, "scripts/node24"), "bin"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
    return join(bin.trim(), "node");
  } catch (error) {
    const stderr = String((error as { stderr?: unknown }).stderr ?? "").trim();
    throw new Error(stderr || `scripts/node24 bin failed: ${(error as Error).message}`);
  }
}

/**
 * A `node` binary from a command-line item: a path as given; a major version: this process's own Node
 * when it is that major, the project's Node 24 for 24; anything else needs a path.
 */
export function resolveNode(item: string): string {
  if (item.includes("/")) return item;
  const major = Number(item.replace(/^v/, ""));
  if (major === Number(process.versions.node.split(".")[0])) return process.execPath;
  if (major === 24) return projectNode24();
  throw new Error(
    `--nodes ${item}: no Node ${item} known here (the bench runs on ${process.version}); give its path`,
  );
}

/** `v24.22.3`: what `node -v` of that binary says, checking it runs at all. */
export function nodeVersion(binary: string): string {
  return execFileSync(binary, ["-v"], { encoding: "utf8" }).trim();
}
