import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, inject, test } from "vitest";
import { REPO, run } from "./testing/process.js";

/** Every workspace package that builds a dist/: what its tarball (and so a bundle) may carry. */
const built = [
  "packages/common",
  "packages/gateway-kit",
  "packages/proto",
  "packages/service-kit",
  "packages/stores",
  "packages/testkit",
  "apps/registry",
  "apps/sequence",
];

describe.each(built)("%s packed", (dir) => {
  test("holds its built code and declared files, never a test, a test helper or a source file", async () => {
    const destination = join(inject("scratch"), "packs", dir.replace("/", "-"));
    mkdirSync(destination, { recursive: true });
    await run("pnpm", ["--dir", dir, "pack", "--pack-destination", destination]);
    const tarball = readdirSync(destination).find((name) => name.endsWith(".tgz"))!;
    const files = (await run("tar", ["-tzf", join(destination, tarball)])).stdout
      .split("\n")
      .filter((line) => line !== "" && !line.endsWith("/"))
      .map((line) => line.replace(/^package\//, ""));
    const { files: declared } = JSON.parse(readFileSync(join(REPO, dir, "package.json"), "utf8")) as {
      files: string[];
    };
    expect(files.filter((file) => file.startsWith("dist/")).length).toBeGreaterThan(0);
    const misplaced = files.filter(
      (file) =>
        /\.test\.|\/testing\//.test(file) ||
        !(file === "package.json" || file === "README.md" || declared.some((d) => file.startsWith(`${d}/`))),
    );
    expect(misplaced).toEqual([]);
  });
});
