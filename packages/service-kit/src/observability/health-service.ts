import type { ConnectRouter } from "@connectrpc/connect";
import { Code, ConnectError } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus } from "@im-core/proto/grpc/health/v1";

/**
 * The standard `grpc.health.v1.Health` service. For the whole server ("") and for each named service:
 * SERVING while the instance is ready (a shared backend outage included: it still serves what it can),
 * NOT_SERVING while it drains or its own connection to a backend is broken. For each backend by name
 * (`etcd`, `redis`, `mysql`): SERVING while the last probe reached it.
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
  router.service(Health, {
    async check(request) {
      let serving: boolean;
      if (services.has(request.service)) serving = await options.isServing();
      else if (backends.has(request.service)) serving = await options.isBackendServing(request.service);
      else throw new ConnectError(`unknown service "${request.service}"`, Code.NotFound);
      return {
        status: serving
          ? HealthCheckResponse_ServingStatus.SERVING
          : HealthCheckResponse_ServingStatus.NOT_SERVING,
      };
    },
  });
}
