import { FAULT_KINDS } from "./nemesis/faults.js";
import { isFaultSpec } from "./nemesis/schedule.js";
import { randomSeed } from "./random.js";
import type { RunOptions } from "./run.js";

export interface CliOptions extends Omit<RunOptions, "log"> {
  /** Write the report there too (Markdown). */
  out?: string;
  /** Write the full history there (JSON), for digging into a violation. */
  historyOut?: string;
}

const USAGE = `pnpm chaos -- [--minutes N | --seconds N] [--seed S] [--faults kind,kind,...] [--out report.md] [--history history.json]
fault kinds: ${FAULT_KINDS.join(", ")}; aim a service fault or a partition with @registry or @sequence`;

export function parseOptions(argv: readonly string[]): CliOptions {
  const options: CliOptions = { seed: randomSeed(), durationMs: 90_000 };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value\n${USAGE}`);
      return v;
    };
    const number = () => {
      const n = Number(value());
      if (!Number.isFinite(n) || n <= 0) throw new Error(`${flag} needs a positive number\n${USAGE}`);
      return n;
    };
    if (flag === "--") continue;
    else if (flag === "--minutes") options.durationMs = number() * 60_000;
    else if (flag === "--seconds") options.durationMs = number() * 1000;
    else if (flag === "--seed") options.seed = Math.floor(number());
    else if (flag === "--out") options.out = value();
    else if (flag === "--history") options.historyOut = value();
    else if (flag === "--faults") {
      const kinds = value().split(",");
      const unknown = kinds.filter((k) => !isFaultSpec(k));
      if (unknown.length) throw new Error(`unknown fault kinds: ${unknown.join(", ")}\n${USAGE}`);
      options.faults = kinds.filter(isFaultSpec);
    } else throw new Error(`unknown option ${flag}\n${USAGE}`);
  }
  return options;
}
