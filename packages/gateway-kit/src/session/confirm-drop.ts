import type { CallOptions, Client } from "@connectrpc/connect";
import type { RegistryService } from "@im-core/proto/registry/v1";
import type { DropEvent } from "./events.js";
import { sleep } from "./registrar.js";

/** Lookups of one report before the answer is taken as it is, however old its revision. */
const ATTEMPTS = 10;

/**
 * Whether the registry, as of the report's revision or later, still has the device on `gatewayNode`. A
 * registry instance answers from its copy of etcd, which may trail the instance that sent the report by a
 * few milliseconds: an answer older than the report is asked again, briefly.
 */
export async function stillOnNode(
  registry: Client<typeof RegistryService>,
  event: DropEvent,
  gatewayNode: string,
  options: CallOptions,
): Promise<boolean> {
  for (let attempt = 1; ; attempt += 1) {
    const answer = await registry.lookup({ userId: event.userId }, options);
    const current = event.revision === undefined || answer.revision >= event.revision;
    if (current || attempt === ATTEMPTS) {
      return answer.devices.some((d) => d.deviceId === event.deviceId && d.gatewayNode === gatewayNode);
    }
    await sleep(10 * attempt);
  }
}
