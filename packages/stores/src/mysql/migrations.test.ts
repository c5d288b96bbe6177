import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { expect, it } from "vitest";

it("the committed migrations match schema.ts (drizzle-kit generate finds nothing to add)", async () => {
  const { stdout } = await promisify(execFile)("node", ["scripts/check-migrations.mjs"], {
    env: { ...process.env, PATH: `node_modules/.bin:${process.env.PATH}` },
  });
  expect(stdout).toContain("match");
});
