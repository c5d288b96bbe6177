import { writeFileSync } from "node:fs";
import { parseOptions } from "./options.js";
import { formatReport } from "./report.js";
import { runChaos } from "./run.js";

const options = parseOptions(process.argv.slice(2));
const log = (line: string) => console.error(line);
log(`chaos: seed ${options.seed}, ${(options.durationMs / 1000).toFixed(0)} s`);
const result = await runChaos({ ...options, log });
const report = formatReport(result);
console.log(report);
if (options.out) writeFileSync(options.out, report);
if (options.historyOut) {
  const { calls, watches, faults } = result.history;
  writeFileSync(
    options.historyOut,
    JSON.stringify({ seed: options.seed, plans: result.plans, calls, watches, faults }),
  );
}
process.exit(result.verdict.ok ? 0 : 1);
