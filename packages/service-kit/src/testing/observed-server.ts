import { RegistryService } from "@im-core/proto";
import { createLogger, type Logger } from "../logger.js";
import {
  createServiceServer,
  type ServiceServer,
  type ServiceServerOptions,
} from "../server/service-server.js";

export interface ObservedServer {
  server: ServiceServer;
  baseUrl: string;
  /** How often the server's one readiness check ran so far. */
  readinessChecks(): number;
}

/**
 * A registry-shaped server whose Lookup answers at once, whose readiness check counts its runs (and
 * fails while `backend.up` is false), with `options` on top: for tests that watch what a server does
 * per request (readiness probes, metrics renders, counted calls, log lines).
 */
export async function startObservedServer(
  options: Partial<Omit<ServiceServerOptions, "readiness" | "routes">> = {},
  backend: { up: boolean } = { up: true },
): Promise<ObservedServer> {
  let checks = 0;
  const logger: Logger = options.logger ?? createLogger("test", "silent");
  const server = createServiceServer({
    service: RegistryService,
    accessPolicy: { Lookup: ["router"] },
    ...options,
    logger,
    settings: { shutdownGraceMs: 500, ...options.settings },
    readiness: [
      {
        name: "backend",
        check: async () => {
          checks += 1;
          if (!backend.up) throw new Error("connection refused");
        },
      },
    ],
    routes: (router) =>
      router.service(RegistryService, { lookup: async () => ({ devices: [], revision: 1n }) }),
  });
  const { port } = await server.listen(0, "127.0.0.1");
  return { server, baseUrl: `http://127.0.0.1:${port}`, readinessChecks: () => checks };
}
