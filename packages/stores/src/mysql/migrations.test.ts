import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { expect, it } from "vitest";

it("the committed migrations match schema.ts (drizzle-kit generate finds nothing to add)", async () => {
  // process.execPath: the Node this suite runs on (20 or 24 in CI), not whichever `node` PATH finds first.
  const { stdout } = await promisify(execFile)(process.execPath, ["scripts/check-migrations.mjs"], {
    env: { ...process.env, PATH: `node_modules/.bin:${process.env.PATH}` },
  });
  expect(stdout).toContain("match");
});
