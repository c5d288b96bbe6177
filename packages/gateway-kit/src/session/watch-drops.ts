import { type Client, Code, ConnectError } from "@connectrpc/connect";
import { sleep } from "@im-core/common";
import {
  type RegistryService,
  type WatchEvent,
  WatchEvent_Reason,
  WatchEvent_Type,
} from "@im-core/proto/registry/v1";
import type { DropEvent, DropFeed, DropSink } from "./events.js";

/**
 * A {@link DropFeed} from the registry's Watch filtered by this gateway node: each device of the node taken
 * over by another node, evicted by the device limit, or unregistered by someone else. Resumes from the last
 * revision after a disconnect; after OUT_OF_RANGE (history compacted while disconnected) it follows from
 * the present again and asks for a resync, which checks every held device. Lease ends are not reported:
 * the session re-registers what its lost lease held.
 */
export function watchOwnDrops(
  registry: Client<typeof RegistryService>,
  gatewayNode: string,
  onError: (error: ConnectError) => void = () => {},
): DropFeed {
  return (sink, signal) =>
    new Promise<void>((following) => {
      void follow(registry, gatewayNode, sink, onError, signal, following);
    });
}

async function follow(
  registry: Client<typeof RegistryService>,
  gatewayNode: string,
  sink: DropSink,
  onError: (error: ConnectError) => void,
  signal: AbortSignal,
  following: () => void,
): Promise<void> {
  let startRevision = 0n;
  let gap = false;
  for (let failures = 0; !signal.aborted; ) {
    try {
      const stream = registry.watch({ gatewayNodes: [gatewayNode], startRevision }, { signal });
      for await (const response of stream) {
        following();
        failures = 0;
        if (gap) {
          // Following again from the present: what happened in the gap is found by checking every device.
          gap = false;
          sink.resync(response.revision);
        }
        for (const event of response.events) {
          const drop = dropOf(event, gatewayNode);
          if (drop) sink.report(drop);
        }
        startRevision = response.revision + 1n;
      }
    } catch (error) {
      following(); // open() goes on; the feed keeps trying in the background
      if (signal.aborted) return;
      const failure = ConnectError.from(error);
      if (failure.code === Code.OutOfRange) {
        startRevision = 0n;
        gap = true;
      }
      onError(failure);
      failures += 1;
    }
    await sleep(Math.min(2_000, 50 * 2 ** failures));
  }
}

/** What an event of this node's filtered Watch means for the gateway, if anything. */
export function dropOf(event: WatchEvent, gatewayNode: string): DropEvent | undefined {
  const location = event.location;
  if (!location) return undefined;
  const base = { userId: location.userId, deviceId: location.deviceId, revision: event.revision };
  if (event.type === WatchEvent_Type.PUT) {
    const movedAway =
      event.reason === WatchEvent_Reason.TAKEN_OVER &&
      event.previous?.gatewayNode === gatewayNode &&
      location.gatewayNode !== gatewayNode;
    return movedAway ? { ...base, reason: "taken_over", location } : undefined;
  }
  if (location.gatewayNode !== gatewayNode) return undefined;
  if (event.reason === WatchEvent_Reason.EVICTED) return { ...base, reason: "evicted", location };
  if (event.reason === WatchEvent_Reason.UNREGISTERED) return { ...base, reason: "unregistered", location };
  return undefined;
}
