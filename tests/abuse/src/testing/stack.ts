import { createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { RegistryService, SequenceService } from "@im-core/proto";
import { registryEntry } from "@im-core/registry/entry";
import { sequenceEntry } from "@im-core/sequence/entry";
import { type ServiceProcess, startEtcd, startMariaDb, startRedis, startService } from "@im-core/testkit";
import { forFile } from "@im-core/testkit/vitest";

/** One token per role (two gateways); the attacker holds none of them unless a test says it stole one. */
export const tokens = {
  gateway: "abuse-gateway-token-0123456789",
  otherGateway: "abuse-other-gateway-token-012345",
  router: "abuse-router-token-0123456789",
  admin: "abuse-admin-token-0123456789",
} as const;

/** What each token may do; a gateway token names the gateway nodes it acts for: any, here. */
const grants: Record<keyof typeof tokens, string> = {
  gateway: "gateway@*",
  otherGateway: "gateway@*",
  router: "router",
  admin: "admin",
};

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** Sends `token` with every call of a client. */
export const withToken =
  (token: string): Interceptor =>
  (next) =>
  (request) => {
    request.header.set("authorization", `Bearer ${token}`);
    return next(request);
  };

/**
 * Both services as production runs them (auth on, default settings otherwise, each its own process) on
 * private backends, for one test file. `env` adds settings to both.
 */
export function abuseStack(env: Record<string, string> = {}) {
  const stack = forFile(
    async () => {
      const [etcd, redis, mariadb] = await Promise.all([startEtcd(), startRedis(), startMariaDb()]);
      const auth = {
        AUTH_TOKENS: Object.entries(tokens)
          .map(([name, token]) => `${token}:${grants[name as keyof typeof tokens]}`)
          .join(","),
        ...env,
      };
      const [registry, sequence] = await Promise.all([
        startService({ entry: registryEntry, env: { ...auth, ETCD_ENDPOINTS: etcd.endpoints.join(",") } }),
        startService({
          entry: sequenceEntry,
          env: { ...auth, REDIS_URL: redis.url, MYSQL_URL: await mariadb.createDatabase() },
        }),
      ]);
      return { etcd, redis, mariadb, registry, sequence };
    },
    async (servers) => {
      await Promise.all([servers.registry.dispose(), servers.sequence.dispose()]);
      await Promise.all([servers.etcd.dispose(), servers.redis.dispose(), servers.mariadb.dispose()]);
    },
  );
  return {
    get servers() {
      return stack();
    },
    /** Well-behaved clients, each on its own connection: what must keep working during an attack. */
    clients(token: string = tokens.gateway) {
      const { registry, sequence } = stack();
      return {
        registry: createClient(
          RegistryService,
          createGrpcTransport({ baseUrl: registry.url, interceptors: [withToken(token)] }),
        ),
        sequence: createClient(
          SequenceService,
          createConnectTransport({
            baseUrl: sequence.url,
            httpVersion: "2",
            interceptors: [withToken(token)],
          }),
        ),
      };
    },
  };
}

/** How long `call` took, in ms, or `Infinity` when it failed or took longer than `limitMs`. */
export async function timed(
  call: (signal: AbortSignal) => Promise<unknown>,
  limitMs: number,
): Promise<number> {
  const started = performance.now();
  try {
    await call(AbortSignal.timeout(limitMs));
    return performance.now() - started;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

/**
 * Whether `service` still serves a well-behaved caller: `/healthz` and `call` each answered within
 * `limitMs` (on a fresh connection: the attacker may hold the others). The latencies, for the report.
 */
export async function responsiveness(
  service: ServiceProcess,
  call: (signal: AbortSignal) => Promise<unknown>,
  limitMs = 2_000,
): Promise<{ healthzMs: number; callMs: number }> {
  const healthzMs = await timed(async (signal) => {
    const response = await fetch(`${service.url}/healthz`, { signal });
    if (!response.ok) throw new Error(`healthz ${response.status}`);
  }, limitMs);
  const callMs = await timed(call, limitMs);
  return { healthzMs, callMs };
}
