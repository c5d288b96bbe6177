import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import ts from "typescript";
import { afterAll, describe, expect, test } from "vitest";
import { eventually } from "./eventually.js";
import { resolveBinary } from "./index.js";
import { isAlive } from "./testing/processes.js";

const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

/**
 * The kit compiled to plain ESM, so a bare `node` child (no vitest, no tsx) can run it. It lands inside
 * this package's node_modules so that its imports of workspace packages (@im-core/common) resolve.
 */
async function compiledKit(): Promise<string> {
  const cache = join(import.meta.dirname, "../node_modules/.cache");
  await mkdir(cache, { recursive: true });
  const out = await mkdtemp(join(cache, "testkit-compiled-"));
  dirs.push(out);
  const src = import.meta.dirname;
  for (const file of await readdir(src)) {
    if (!file.endsWith(".ts") || file.endsWith(".test.ts")) continue;
    const { outputText } = ts.transpileModule(await readFile(join(src, file), "utf8"), {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2023 },
    });
    await writeFile(join(out, file.replace(/\.ts$/, ".js")), outputText);
  }
  return out;
}

describe.concurrent("cleanup when the owning process dies", () => {
  // SIGKILL: only the detached watchdog can act. SIGTERM/SIGINT: the exit hooks kill, the watchdog tidies.
  test.each(["SIGKILL", "SIGTERM", "SIGINT"] as const)(
    "servers die and temp dirs vanish on %s",
    async (signal) => {
      const kit = await compiledKit();
      await writeFile(
        join(kit, "child.mjs"),
        `import { startRedis } from "./redis.js";
import { startEtcd } from "./etcd.js";
const redis = await startRedis();
const etcd = await startEtcd();
await redis.restart(); // the watchdog must follow the new pid
console.log(JSON.stringify({ pids: [redis.pid, etcd.pid], homes: [redis.home, etcd.home] }));
setInterval(() => {}, 1000);
`,
      );
      const child = spawn(process.execPath, [join(kit, "child.mjs")], {
        stdio: ["ignore", "pipe", "inherit"],
      });
      const line = await new Promise<string>((resolve, reject) => {
        let out = "";
        child.stdout.on("data", (chunk) => {
          out += chunk;
          if (out.includes("\n")) resolve(out.split("\n")[0]!);
        });
        child.once("exit", (code) => reject(new Error(`child exited early with ${code}`)));
      });
      const { pids, homes } = JSON.parse(line) as { pids: number[]; homes: string[] };
      expect(pids.every(isAlive)).toBe(true);

      child.kill(signal);
      await eventually(() => {
        expect(pids.filter(isAlive)).toEqual([]);
        expect(homes.filter((h) => existsSync(h))).toEqual([]);
      }, 5000);
    },
  );
});

describe("missing binaries", () => {
  test("name the Debian package and the install script", () => {
    expect(() => resolveBinary("im-testkit-no-such-server", "some-server-package")).toThrow(
      /some-server-package.*bash infra\/install-deps\.sh/,
    );
  });
});
