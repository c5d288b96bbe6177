import { createClient, type Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { RegistryService } from "@im-core/proto/registry/v1";
import { registryEntry } from "@im-core/registry/entry";
import { sequenceEntry } from "@im-core/sequence/entry";
import {
  type EtcdServer,
  type ServiceProcess,
  startEtcd,
  startMariaDb,
  startRedis,
  startService,
  startTcpProxy,
  type TcpProxy,
} from "@im-core/testkit";
import { forFile } from "@im-core/testkit/vitest";

/** gRPC over HTTP/2, as a gateway calls the services. */
export const grpc = (baseUrl: string): Transport => createGrpcTransport({ baseUrl });

/** A sequence service process on private Redis and MariaDB for one test file, auth off. */
export function useSequenceService(env: Record<string, string> = {}) {
  return forFile(
    async () => {
      const [redis, mariadb] = await Promise.all([startRedis(), startMariaDb()]);
      const service = await startService({
        entry: sequenceEntry,
        env: {
          REDIS_URL: redis.url,
          MYSQL_URL: await mariadb.createDatabase(),
          AUTH_DISABLED: "true",
          // The tests start thousands of conversations in seconds.
          SEQUENCE_NEW_CONVERSATION_RATE: "1000000",
          ...env,
        },
      });
      return { redis, mariadb, service };
    },
    async ({ redis, mariadb, service }) => {
      await service.dispose();
      await Promise.all([redis.dispose(), mariadb.dispose()]);
    },
  );
}

export interface RegistryStack {
  readonly etcd: EtcdServer;
  readonly service: ServiceProcess;
  /** In front of the service: cut() makes the registry unreachable for the session, restore() brings it back. */
  readonly proxy: TcpProxy;
  /** Another client straight to the service, for the test's own checks. */
  readonly observer: ReturnType<typeof createClient<typeof RegistryService>>;
}

/** A registry process on a private etcd (fast mode: 1 s minimum TTL) for one test file, auth off. */
export function useRegistryService(env: Record<string, string> = {}) {
  return forFile(
    async (): Promise<RegistryStack> => {
      const etcd = await startEtcd();
      const service = await startService({
        entry: registryEntry,
        env: {
          ETCD_ENDPOINTS: etcd.endpoints.join(","),
          AUTH_DISABLED: "true",
          SHUTDOWN_GRACE_MS: "500",
          REGISTRY_LEASE_GRANT_RATE: "100000",
          ...env,
        },
      });
      const proxy = await startTcpProxy(service.port);
      const observer = createClient(RegistryService, grpc(service.url));
      return { etcd, service, proxy, observer };
    },
    async ({ etcd, service, proxy }) => {
      await proxy.close();
      await service.dispose();
      await etcd.dispose();
    },
  );
}

/** How many of the users' devices the registry has on the session's current lease (BatchLookup, 1,000 users a call). */
export async function countOnLease(
  observer: RegistryStack["observer"],
  session: { readonly gatewayNode: string; readonly leaseId: bigint | undefined },
  users: readonly string[],
): Promise<number> {
  let count = 0;
  for (let i = 0; i < users.length; i += 1_000) {
    const { devices } = await observer.batchLookup(
      { userIds: users.slice(i, i + 1_000) },
      { timeoutMs: 2_000 },
    );
    count += devices.filter(
      (d) => d.gatewayNode === session.gatewayNode && d.leaseId === session.leaseId,
    ).length;
  }
  return count;
}
