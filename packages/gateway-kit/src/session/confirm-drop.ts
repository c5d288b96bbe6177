import type { CallOptions, Client } from "@connectrpc/connect";
import type { RegistryService } from "@im-core/proto/registry/v1";
import type { DropEvent } from "./events.js";
import { deviceKey } from "./held-devices.js";
import { sleep } from "./registrar.js";

/** Users per BatchLookup: the registry's limit. */
export const MAX_USERS_PER_LOOKUP = 1_000;

/** Lookups of one batch of reports before the answer is taken as it is, however old its revision. */
const ATTEMPTS = 10;

/**
 * Which of the reported devices the registry, as of the reports' revisions or later, still has on
 * `gatewayNode` (as device keys). A registry instance answers from its copy of etcd, which may trail the
 * instance that sent a report by a few milliseconds: an answer older than the newest report is asked again,
 * briefly. The reports must name at most {@link MAX_USERS_PER_LOOKUP} users.
 */
export async function stillOnNode(
  registry: Client<typeof RegistryService>,
  reports: readonly DropEvent[],
  gatewayNode: string,
  options: CallOptions,
): Promise<Set<string>> {
  const userIds = [...new Set(reports.map((r) => r.userId))];
  const newest = reports.reduce(
    (max, r) => (r.revision !== undefined && r.revision > max ? r.revision : max),
    0n,
  );
  for (let attempt = 1; ; attempt += 1) {
    const answer = await registry.batchLookup({ userIds }, options);
    if (answer.revision >= newest || attempt === ATTEMPTS) {
      const here = answer.devices.filter((d) => d.gatewayNode === gatewayNode);
      return new Set(here.map((d) => deviceKey(d.userId, d.deviceId)));
    }
    await sleep(10 * attempt);
  }
}
