import { type Client, Code, ConnectError } from "@connectrpc/connect";
import { backoff, StoreError, sleep } from "@im-core/common";
import { type DeviceLocation, type RegistryService, type WatchEvent, WatchEvent_Type } from "@im-core/proto";
import type { ChangeEvent, DeviceEntry, MirrorSource, WatchSink } from "../devices.js";

/**
 * The two RPCs of a registry client this source uses: the generated client
 * (`createClient(RegistryService, transport)`) as it is.
 */
export type RegistryFeedClient = Pick<Client<typeof RegistryService>, "batchLookup" | "watch">;

export function entryFromWire(location: DeviceLocation, modRevision = 0): DeviceEntry {
  const at = location.connectedAt;
  return {
    userId: location.userId,
    deviceId: location.deviceId,
    gatewayNode: location.gatewayNode,
    connectedAtMs: at ? Number(at.seconds) * 1000 + Math.floor(at.nanos / 1e6) : 0,
    leaseId: location.leaseId,
    modRevision,
  };
}

function eventFromWire(event: WatchEvent): ChangeEvent | undefined {
  const type =
    event.type === WatchEvent_Type.PUT ? "put" : event.type === WatchEvent_Type.DELETE ? "delete" : undefined;
  if (!event.location || !type) return undefined;
  return {
    type,
    entry: entryFromWire(event.location, Number(event.revision)),
    revision: Number(event.revision),
  };
}

/** Most users one source may follow: BatchLookup's and Watch's limit. */
export const MAX_FEED_USERS = 1_000;

/**
 * A mirror source over a registry service, for a router that keeps its own cache of some users (1 to
 * 1,000 per source, the RPCs' limit; a router caching more users runs one mirror per group of users):
 * snapshot with BatchLookup, follow with Watch from the snapshot's revision + 1, resuming after every
 * disconnect (the service restarting, a lagging stream cut off with RESOURCE_EXHAUSTED, a network
 * blip) from the last revision received, so nothing is missed or repeated. When the service answers
 * OUT_OF_RANGE (its etcd compacted that history, or was reset) the watch ends with `out_of_range` and
 * the mirror loads a fresh snapshot.
 */
export function registryFeedSource(client: RegistryFeedClient, userIds: readonly string[]): MirrorSource {
  const users = [...new Set(userIds)];
  // An empty list would mean "no snapshot" to BatchLookup but "everyone" to Watch: refuse it.
  if (users.length === 0 || users.length > MAX_FEED_USERS) {
    throw new RangeError(`a registry feed follows 1 to ${MAX_FEED_USERS} users, got ${users.length}`);
  }
  return {
    async snapshot(options) {
      const response = await client.batchLookup(
        { userIds: users },
        options?.signal ? { signal: options.signal } : {},
      );
      return { revision: Number(response.revision), entries: response.devices.map((d) => entryFromWire(d)) };
    },
    watch(fromRevision, sink) {
      const abort = new AbortController();
      void follow(client, users, fromRevision, sink, abort.signal);
      return { close: () => abort.abort() };
    },
  };
}

async function follow(
  client: RegistryFeedClient,
  userIds: string[],
  fromRevision: number,
  sink: WatchSink,
  signal: AbortSignal,
): Promise<void> {
  let next = fromRevision;
  for (let failures = 0; !signal.aborted; failures++) {
    let connected = false;
    try {
      for await (const response of client.watch({ userIds, startRevision: BigInt(next) }, { signal })) {
        if (!connected) {
          connected = true;
          failures = 0;
          sink.connection?.(true);
        }
        const events = response.events.flatMap((e) => eventFromWire(e) ?? []);
        const revision = Number(response.revision);
        if (events.length > 0) sink.batch({ revision, events });
        next = Math.max(next, revision + 1);
      }
    } catch (error) {
      if (signal.aborted) return;
      if (ConnectError.from(error).code === Code.OutOfRange) {
        sink.error(
          new StoreError("out_of_range", "the registry compacted the history this cache needs", {
            cause: error,
          }),
        );
        return;
      }
    }
    if (connected) sink.connection?.(false);
    await sleep(backoff(failures, 50, 2_000));
  }
}
