import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { eventually } from "./eventually.js";
import { startService } from "./index.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "testkit-service-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** A script standing in for a service: `body` runs with `port` and `host` from PORT and HOST. */
async function script(name: string, body: string): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, `const port = Number(process.env.PORT);\nconst host = process.env.HOST;\n${body}\n`);
  return file;
}

const httpService = `
import { createServer } from "node:http";
const server = createServer((request, response) => {
  if (request.url === "/healthz") return response.end("ok");
  if (request.url === "/env") return response.end(JSON.stringify(process.env));
  response.statusCode = 503;
  response.end();
});
server.listen(port, host, () => console.log("serving"));
process.on("SIGTERM", () => {
  console.log("draining");
  server.close(() => process.exit(0));
});
`;

describe.concurrent("startService", () => {
  test("waits for /healthz, reports its output, and tells the exit code of the drain after stop()", async () => {
    const lines: string[] = [];
    const service = await startService({
      entry: await script("http.mjs", httpService),
      name: "http-stand-in",
      onOutput: (line) => lines.push(line),
    });
    try {
      expect(lines).toEqual(["serving"]);
      expect(service.url).toBe(`http://127.0.0.1:${service.port}`);
      expect((await fetch(`${service.url}/healthz`)).status).toBe(200);
      expect(service.exitCode).toBeUndefined();
      await service.stop();
      expect(service.exitCode).toBe(0);
      expect(service.output()).toContain("draining");
    } finally {
      await service.dispose();
    }
    expect(lines).toEqual(["serving", "draining"]);
  });

  test("isolatedEnv starts from a clean environment, with the caller's env, PORT and HOST on top", async () => {
    const service = await startService({
      entry: await script("env.mjs", httpService),
      isolatedEnv: true,
      env: { EXTRA: "yes" },
    });
    try {
      const env = (await (await fetch(`${service.url}/env`)).json()) as Record<string, string>;
      expect(env).toMatchObject({ EXTRA: "yes", PORT: String(service.port), HOST: "127.0.0.1" });
      expect(env.PATH).not.toContain("node_modules");
      expect(Object.keys(env).filter((name) => name.startsWith("npm_"))).toEqual([]);
    } finally {
      await service.dispose();
    }
  });

  test('ready: "listening" waits for a socket that HTTP/1.1 cannot ask (h2c only)', async () => {
    const entry = await script(
      "h2c.mjs",
      `import { createServer } from "node:http2";
setTimeout(() => createServer().listen(port, host), 300);`,
    );
    const service = await startService({ entry, ready: "listening" });
    try {
      expect(service.pid).toBeDefined();
    } finally {
      await service.dispose();
    }
  });

  test("reports an exit after start-up to onExit, and not one it caused itself", async () => {
    const exits: (number | null)[] = [];
    const entry = await script("crash.mjs", `${httpService}\nprocess.on("SIGUSR2", () => process.exit(3));`);
    const service = await startService({ entry, onExit: (code) => exits.push(code) });
    try {
      await service.restart();
      expect(exits).toEqual([]);
      process.kill(service.pid!, "SIGUSR2");
      await eventually(() => expect(exits).toEqual([3]));
      expect(service.exitCode).toBe(3);
    } finally {
      await service.dispose();
    }
  });

  test("a process that exits during start-up fails the start with its last log lines", async () => {
    const entry = await script("fails.mjs", `console.error("PORT is not good enough"); process.exit(2);`);
    await expect(startService({ entry })).rejects.toThrow(/exit code 2[\s\S]*PORT is not good enough/);
  });

  test("a missing entry says to build it", async () => {
    await expect(startService({ entry: join(dir, "dist/main.js") })).rejects.toThrow(/build it first/);
  });
});
