/**
 * `scripts/dev`: brings up etcd, Redis and MariaDB, then runs both services (the sequence service
 * applies its migrations at start-up), prints their URLs, and on Ctrl-C stops everything it started.
 */
import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import readline from "node:readline";
import { startLocalBackends } from "./backends.ts";

const root = path.resolve(import.meta.dirname, "../..");

const services = [
  { name: "registry", port: 8081 },
  { name: "sequence", port: 8082 },
] as const;

function run(name: string, env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, [path.join(root, "apps", name, "dist/main.js")], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  for (const stream of [child.stdout, child.stderr]) {
    readline.createInterface({ input: stream }).on("line", (line) => console.log(`[${name}] ${line}`));
  }
  return child;
}

async function waitReady(url: string, child: ChildProcess): Promise<void> {
  for (let attempt = 0; attempt < 300; attempt++) {
    if (child.exitCode !== null) throw new Error(`${url}: the service exited with code ${child.exitCode}`);
    const ready = await fetch(`${url}/readyz`).then(
      (response) => response.ok,
      () => false,
    );
    if (ready) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${url} did not become ready within 30 s`);
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
  });
}

console.log("starting etcd, Redis and MariaDB (data in infra/local/data) ...");
const backends = await startLocalBackends();
const children: ChildProcess[] = [];
let stopping = false;

async function stopAll(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    console.log("\nstopping services and backing servers ...");
    await Promise.all(children.map(stopChild));
    await backends.stop();
  }
  process.exit(code);
}
process.on("SIGINT", () => void stopAll(0));
process.on("SIGTERM", () => void stopAll(0));

try {
  for (const { name, port } of services) {
    // Local development only: anyone on this machine may call the services.
    const child = run(name, { ...backends.env, PORT: String(port), AUTH_DISABLED: "true" });
    children.push(child);
    child.once("exit", (code) => {
      if (!stopping) {
        console.error(`${name} exited with code ${code}`);
        void stopAll(1);
      }
    });
  }
  await Promise.all(services.map(({ port }, i) => waitReady(`http://127.0.0.1:${port}`, children[i]!)));
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  await stopAll(1);
}

console.log(`
  registry  http://127.0.0.1:8081   (Connect, gRPC, gRPC-Web; GET /healthz, /readyz)
  sequence  http://127.0.0.1:8082
  etcd      ${backends.env.ETCD_ENDPOINTS}
  redis     ${backends.env.REDIS_URL}
  mariadb   ${backends.env.MYSQL_URL}

  try:  curl -s -H 'content-type: application/json' -d '{"conversation":{"groupId":"g1"}}' \\
          http://127.0.0.1:8082/im.sequence.v1.SequenceService/Next
  Auth is disabled for local development (AUTH_DISABLED=true); production needs AUTH_TOKENS.
  Ctrl-C stops everything.
`);
