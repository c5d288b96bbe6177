import type { CallOptions, Client } from "@connectrpc/connect";
import { sleep } from "@im-core/common";
import type { DeviceLocation, RegistryService } from "@im-core/proto/registry/v1";
import { deviceKey } from "./held-devices.js";

/** Users per BatchLookup: the registry's limit. */
export const MAX_USERS_PER_LOOKUP = 1_000;

/** Lookups of one batch of reports before the answer is taken as it is, however old its revision. */
const ATTEMPTS = 10;

/**
 * Where the registry, as of the reports' revisions or later, has each reported device (by device key;
 * absent: not registered). A registry instance answers from its copy of etcd, which may trail the instance
 * that sent a report by a few milliseconds: an answer older than the newest report is asked again,
 * briefly. The reports must name at most {@link MAX_USERS_PER_LOOKUP} users.
 */
export async function locate(
  registry: Client<typeof RegistryService>,
  reports: readonly { readonly userId: string; readonly revision?: bigint }[],
  options: CallOptions,
): Promise<Map<string, DeviceLocation>> {
  const userIds = [...new Set(reports.map((r) => r.userId))];
  const newest = reports.reduce(
    (max, r) => (r.revision !== undefined && r.revision > max ? r.revision : max),
    0n,
  );
  for (let attempt = 1; ; attempt += 1) {
    const answer = await registry.batchLookup({ userIds }, options);
    if (answer.revision >= newest || attempt === ATTEMPTS) {
      return new Map(answer.devices.map((d) => [deviceKey(d.userId, d.deviceId), d]));
    }
    await sleep(10 * attempt);
  }
}
