import { RegistryService } from "@im-core/proto";
import { createLogger } from "../logger.js";
import { createServiceServer, type ServiceServer } from "../server/service-server.js";
import type { ServerSettings } from "../settings.js";

export const gatewayToken = "gateway-token-0123456789";
export const routerToken = "router-token-0123456789";

/** Whether the fake backend answers readiness checks, and how many Lookups of user "hang" it holds. */
export const backend = { up: true, hanging: 0 };

/**
 * A server of the registry's service with stand-in handlers: Lookup answers at once (or never, for user
 * "hang"), Register answers a fixed lease, Watch sends one response (then floods, for user "flood") and
 * waits for its end. Gateways may Register, gateways and routers Lookup, routers Watch.
 */
export async function startTestServer(
  settings: Partial<ServerSettings>,
): Promise<{ server: ServiceServer; baseUrl: string; port: number }> {
  const server = createServiceServer({
    service: RegistryService,
    accessPolicy: { Lookup: ["gateway", "router"], Register: ["gateway"], Watch: ["router"] },
    logger: createLogger("test", "silent"),
    settings: { shutdownGraceMs: 500, ...settings },
    readiness: [
      {
        name: "etcd",
        check: async () => {
          if (!backend.up) throw new Error("connection refused");
        },
      },
    ],
    routes: (router, { draining }) =>
      router.service(RegistryService, {
        lookup: async (request) => {
          if (request.userId === "hang") {
            backend.hanging++;
            await new Promise(() => {});
          }
          return { devices: [], revision: 1n };
        },
        register: async () => ({ leaseId: 1n, ttlSeconds: 90, evicted: [] }),
        async *watch(request, context) {
          yield { events: [], revision: 1n };
          if (request.userIds.includes("flood")) {
            // Far more than HTTP/2 flow control lets through to a client that does not read.
            const location = { userId: "u".repeat(200), deviceId: "d", gatewayNode: "g" };
            for (let revision = 2n; !context.signal.aborted; revision++) {
              yield {
                events: Array.from({ length: 100 }, () => ({ type: 1, location, revision })),
                revision,
              };
            }
          }
          await new Promise<void>((resolve) => {
            draining.addEventListener("abort", () => resolve());
            context.signal.addEventListener("abort", () => resolve());
          });
        },
      }),
  });
  const { port } = await server.listen(0, "127.0.0.1");
  return { server, baseUrl: `http://127.0.0.1:${port}`, port };
}
