// `pnpm bench` (full) / `pnpm bench -- --quick`: see bench/README.md.
import { parseArgs, runBench } from "./run.js";

try {
  const args = process.argv.slice(2);
  if (process.env.BENCH_ARGS) args.push(...process.env.BENCH_ARGS.split(/\s+/).filter(Boolean));
  await runBench(parseArgs(args));
  process.exit(0);
} catch (error) {
  console.error(error);
  process.exit(1);
}
