// `pnpm bench` (full) / `pnpm bench -- --quick`: see bench/README.md.
import { parseArgs } from "./options.js";
import { runBench } from "./run.js";

// Exiting through process.exit runs the exit hooks that stop every server this run started.
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.once(signal, () => process.exit(130));

try {
  await runBench(parseArgs(process.argv.slice(2)));
  process.exit(0);
} catch (error) {
  console.error(error);
  process.exit(1);
}
