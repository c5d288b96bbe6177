import closeWithGrace from "close-with-grace";
import { ConfigError } from "./config.js";
import { createLogger, type Logger } from "./logger.js";
import type { ServiceServer } from "./server/service-server.js";
import { defaultLimits, type ServerSettings } from "./settings.js";

export interface RunningService {
  /** URL the service listens on, for the start-up log line. */
  readonly url: string;
  /** Graceful stop: stop taking calls, finish in-flight ones, close backend connections. */
  close(): Promise<void>;
  /** How long `close` may wait for in-flight calls (SHUTDOWN_GRACE_MS); the process exits 5 s after. */
  shutdownGraceMs?: number;
  /** How long `close` keeps serving before it starts draining (SHUTDOWN_DELAY_MS). */
  shutdownDelayMs?: number;
}

/**
 * The whole life of a service process: start it, log where it listens, and on SIGTERM/SIGINT stop
 * it gracefully and exit 0. A configuration error stops start-up with exit code 2 and a message that
 * names the variable; any other start-up failure exits 1.
 */
export async function runService(name: string, start: (logger: Logger) => Promise<RunningService>) {
  const logger = createLogger(name);
  let service: RunningService;
  try {
    service = await start(logger);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${name}: ${error.message}\n`);
      process.exit(2);
    }
    logger.fatal({ err: error }, "start-up failed");
    process.exit(1);
  }
  logger.info({ url: service.url }, `${name} listening on ${service.url}`);
  const delay =
    (service.shutdownDelayMs ?? 0) + (service.shutdownGraceMs ?? defaultLimits.shutdownGraceMs) + 5_000;
  closeWithGrace(
    { delay, logger: { error: (message) => logger.error(message) } },
    async ({ signal, err }) => {
      if (err) {
        logger.error({ err }, "stopping after an unexpected error");
      }
      logger.info({ signal }, "shutting down");
      await service.close();
      logger.info("stopped");
    },
  );
}

/**
 * Starts `server` on `host:port` and describes it for `runService`: where it listens, and a graceful
 * close that stops the server (draining calls) before closing the backends it used.
 */
export async function serve(
  server: ServiceServer,
  at: { host: string; port: number },
  settings: Pick<ServerSettings, "tls" | "shutdownGraceMs" | "shutdownDelayMs">,
  closeBackends: () => unknown,
): Promise<RunningService> {
  const address = await server.listen(at.port, at.host);
  return {
    url: `${settings.tls ? "https" : "http"}://${address.address}:${address.port}`,
    shutdownGraceMs: settings.shutdownGraceMs,
    shutdownDelayMs: settings.shutdownDelayMs,
    async close() {
      await server.close();
      await closeBackends();
    },
  };
}
