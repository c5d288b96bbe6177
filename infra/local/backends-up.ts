/** Runs etcd, Redis and MariaDB in the foreground until SIGINT/SIGTERM (see ./start and ./stop). */
import { startLocalBackends } from "./backends.ts";

const backends = await startLocalBackends();
console.log(
  Object.entries(backends.env)
    .map(([name, value]) => `${name}=${value}`)
    .join("\n"),
);
console.log("backing services ready");

let stopping = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, async () => {
    if (stopping) return;
    stopping = true;
    await backends.stop();
    process.exit(0);
  });
}
