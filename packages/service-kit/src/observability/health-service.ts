import type { ConnectRouter } from "@connectrpc/connect";
import { Code, ConnectError } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus } from "@im-core/proto/grpc/health/v1";

/**
 * The standard `grpc.health.v1.Health` service, answering for the whole server ("") and for each
 * named service: SERVING while every backend answers, NOT_SERVING while one is down or the server
 * is draining.
 */
export { Health };

export function registerHealthService(
  router: ConnectRouter,
  serviceNames: readonly string[],
  isServing: () => Promise<boolean>,
): void {
  const known = new Set(["", ...serviceNames]);
  router.service(Health, {
    async check(request) {
      if (!known.has(request.service)) {
        throw new ConnectError(`unknown service "${request.service}"`, Code.NotFound);
      }
      const serving = await isServing();
      return {
        status: serving
          ? HealthCheckResponse_ServingStatus.SERVING
          : HealthCheckResponse_ServingStatus.NOT_SERVING,
      };
    },
  });
}
