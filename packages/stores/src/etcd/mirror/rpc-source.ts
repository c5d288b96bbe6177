import { StoreError } from "../../errors.js";
import type { ChangeEvent, DeviceEntry, MirrorSource, WatchSink } from "../types.js";

/** A `DeviceLocation` as the generated protobuf-es code shapes it. */
export interface WireLocation {
  userId: string;
  deviceId: string;
  gatewayNode: string;
  connectedAt?: { seconds: bigint; nanos: number } | undefined;
  leaseId: bigint;
}

export interface WireEvent {
  /** 1 = PUT, 2 = DELETE. */
  type: number;
  location?: WireLocation | undefined;
  revision: bigint;
}

/**
 * The two RPCs of a registry service's Connect client this source uses. The generated client
 * (`createClient(RegistryService, transport)`) satisfies it as is; declared structurally so this package
 * does not depend on the generated code.
 */
export interface RegistryFeedClient {
  batchLookup(
    request: { userIds: string[] },
    options?: { signal?: AbortSignal },
  ): Promise<{ devices: WireLocation[]; revision: bigint }>;
  watch(
    request: { userIds: string[]; startRevision: bigint },
    options?: { signal?: AbortSignal },
  ): AsyncIterable<{ events: WireEvent[]; revision: bigint }>;
}

/** Connect's `Code.OutOfRange`. */
const OUT_OF_RANGE = 11;

export function entryFromWire(location: WireLocation, modRevision = 0): DeviceEntry {
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

function eventFromWire(event: WireEvent): ChangeEvent | undefined {
  if (!event.location || (event.type !== 1 && event.type !== 2)) return undefined;
  return {
    type: event.type === 1 ? "put" : "delete",
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
      if ((error as { code?: unknown }).code === OUT_OF_RANGE) {
        sink.error(
          new StoreError("out_of_range", "the registry compacted the history this cache needs", {
            cause: error,
          }),
        );
        return;
      }
    }
    if (connected) sink.connection?.(false);
    await new Promise((resolve) => setTimeout(resolve, Math.min(50 * 2 ** failures, 2_000)));
  }
}
