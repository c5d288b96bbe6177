/**
 * `scripts/dev`: brings up etcd, Redis and MariaDB, then runs both services (the sequence service
 * applies its migrations at start-up), prints their URLs and log lines, and on Ctrl-C stops everything
 * it started.
 */
import path from "node:path";
import { registryEntry } from "@im-core/registry/entry";
import { sequenceEntry } from "@im-core/sequence/entry";
import { type ServiceProcess, startService } from "@im-core/testkit";
import { dataRoot, startLocalBackends } from "./backends.ts";

/**
 * The admin console's dev server (`pnpm --dir apps/admin dev`, fixed to this origin by its
 * vite.config.ts) calls both services from the browser: they must allow its origin.
 */
const adminConsoleOrigins = ["http://127.0.0.1:5173", "http://localhost:5173"];

const services = [
  { name: "registry", port: 8081, entry: registryEntry },
  { name: "sequence", port: 8082, entry: sequenceEntry },
];

console.log("starting etcd, Redis and MariaDB (data in infra/local/data) ...");
const backends = await startLocalBackends();
const running: ServiceProcess[] = [];
let stopping = false;

async function stopAll(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    console.log("\nstopping services and backing servers ...");
    await Promise.all(
      running.map(async (service) => {
        await service.stop();
        await service.dispose();
      }),
    );
    await backends.stop();
  }
  process.exit(code);
}
process.on("SIGINT", () => void stopAll(0));
process.on("SIGTERM", () => void stopAll(0));

try {
  await Promise.all(
    services.map(async ({ name, port, entry }) => {
      const service = await startService({
        entry,
        name,
        port,
        // Logs kept across runs in infra/local/data/<name>/server.log, and shown here as they come.
        dataDir: path.join(dataRoot, name),
        ready: "/readyz",
        readyTimeoutMs: 30_000,
        // Local development only: anyone on this machine may call the services (the console's sign-in takes
        // any token then).
        env: {
          ...backends.env,
          AUTH_DISABLED: "true",
          CORS_ALLOWED_ORIGINS: adminConsoleOrigins.join(","),
          LOG_LEVEL: process.env.LOG_LEVEL ?? "info",
        },
        onOutput: (line) => console.log(`[${name}] ${line}`),
        onExit: (code, signal) => {
          if (stopping) return;
          console.error(`${name} exited (code ${code}, signal ${signal})`);
          void stopAll(1);
        },
      });
      running.push(service);
    }),
  );
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
  admin console: pnpm --dir apps/admin dev, then http://127.0.0.1:5173 (sign in with any token, e.g. "dev")
  Auth is disabled for local development (AUTH_DISABLED=true); production needs AUTH_TOKENS.
  Ctrl-C stops everything.
`);
