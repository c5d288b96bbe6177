// Fails when src/mysql/schema.ts and the committed migrations in drizzle/ disagree: generates into a
// temporary copy of drizzle/ and reports any file drizzle-kit would add or change.
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";

const committed = "drizzle";
const scratch = mkdtempSync(join(tmpdir(), "im-migrations-"));

function files(dir) {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)))
    .sort();
}

try {
  cpSync(committed, scratch, { recursive: true });
  // drizzle-kit prefixes `out` with "./" and exits 0 even when it fails: pass a relative path and
  // trust only its "no changes" line or the files it wrote.
  const output = execFileSync(
    "drizzle-kit",
    ["generate", "--dialect=mysql", "--schema=./src/mysql/schema.ts", `--out=${relative(".", scratch)}`],
    { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
  );
  const drift = files(scratch).filter((file) => {
    try {
      return !readFileSync(join(scratch, file)).equals(readFileSync(join(committed, file)));
    } catch {
      return true;
    }
  });
  if (drift.length > 0) {
    console.error(`schema.ts and ${committed}/ disagree; run \`pnpm generate:migrations\` and commit:`);
    for (const file of drift) console.error(`  ${file}`);
    process.exit(1);
  }
  if (!output.includes("No schema changes")) {
    console.error(`drizzle-kit generate did not confirm the schema:\n${output}`);
    process.exit(1);
  }
  console.log(`migrations in ${committed}/ match src/mysql/schema.ts`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
