import { pino } from "pino";

export type Logger = pino.Logger;

/** JSON logs on stdout; LOG_LEVEL picks the level (default info). */
export function createLogger(name: string, level = process.env.LOG_LEVEL ?? "info"): Logger {
  return pino({
    name,
    level,
    base: { service: name },
    redact: { paths: ["*.authorization", "*.token", "headers.authorization"], censor: "[redacted]" },
  });
}
