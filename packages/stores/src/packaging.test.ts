import { execFile } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { expect, it } from "vitest";
import { migrationsFolder } from "./mysql/migrate.js";

// A deployed bundle holds only dist/ and drizzle/ of this package (see `files`): what the code reads
// at run time next to itself must be in one of them.
const root = fileURLToPath(new URL("..", import.meta.url));

it("ships dist and drizzle, and finds the migrations from dist as from src", () => {
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { files: string[] };
  expect(pkg.files).toEqual(expect.arrayContaining(["dist", "drizzle"]));
  // migrate.ts sits two levels below the package root in src/ and in dist/ alike.
  expect(migrationsFolder).toBe(join(root, "drizzle"));
  const journal = JSON.parse(readFileSync(join(migrationsFolder, "meta/_journal.json"), "utf8")) as {
    entries: { tag: string }[];
  };
  for (const { tag } of journal.entries) expect(existsSync(join(migrationsFolder, `${tag}.sql`))).toBe(true);
});

it("the build copies every Lua script next to the JavaScript that reads it", async () => {
  const scratch = mkdtempSync(join(tmpdir(), "stores-assets-"));
  try {
    mkdirSync(join(scratch, "src/redis"), { recursive: true });
    mkdirSync(join(scratch, "dist/redis"), { recursive: true });
    for (const script of readdirSync(join(root, "src/redis")).filter((f) => f.endsWith(".lua"))) {
      writeFileSync(join(scratch, "src/redis", script), readFileSync(join(root, "src/redis", script)));
    }
    // The Node this suite runs on, not whichever `node` PATH finds first.
    await promisify(execFile)(process.execPath, [join(root, "scripts/copy-assets.mjs")], { cwd: scratch });
    expect(readdirSync(join(scratch, "dist/redis"))).toEqual(readdirSync(join(scratch, "src/redis")));
    expect(readdirSync(join(scratch, "dist/redis"))).toContain("sequence.lua");
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
});
