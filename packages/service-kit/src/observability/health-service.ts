import type { ConnectRouter } from "@connectrpc/connect";
import { Code, ConnectError } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus } from "@im-core/proto/grpc/health/v1";

/**
 * The standard `grpc.health.v1.Health` service. For the whole server ("") and for each named service:
 * SERVING while the instance is ready (a shared backend outage included: it still serves what it can),
 * NOT_SERVING while it drains or its own connection to a backend is broken. For each backend by name
 * (`etcd`, `redis`, `mysql`): SERVING while the last probe reached it. `List` answers every one of
 * those names at once (an admin console learns the backends from it).
 */
export { Health };

export function registerHealthService(
  router: ConnectRouter,
  options: {
    services: readonly string[];
    backends: readonly string[];
    isServing: () => Promise<boolean>;
    isBackendServing: (name: string) => Promise<boolean>;
  },
): void {
  const services = new Set(["", ...options.services]);
  const backends = new Set(options.backends);
  const status = (serving: boolean) => ({
    status: serving
      ? HealthCheckResponse_ServingStatus.SERVING
      : HealthCheckResponse_ServingStatus.NOT_SERVING,
  });
  router.service(Health, {
    async check(request) {
      if (services.has(request.service)) return status(await options.isServing());
      if (backends.has(request.service)) return status(await options.isBackendServing(request.service));
      throw new ConnectError(`unknown service "${request.service}"`, Code.NotFound);
    },
    async list() {
      const serving = await options.isServing();
      const statuses: Record<string, ReturnType<typeof status>> = {};
      for (const name of services) statuses[name] = status(serving);
      for (const name of backends) statuses[name] = status(await options.isBackendServing(name));
      return { statuses };
    },
  });
}
