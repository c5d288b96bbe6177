import { ConnectError } from "@connectrpc/connect";
import { sleep } from "@im-core/common";
import { WatchEvent_Type } from "@im-core/proto";
import type { RegistryClient } from "../clients.js";
import { classify, type WatchEventRecord } from "../history.js";
import type { WorkerContext } from "./context.js";

export interface WatchOptions {
  /** Users followed; empty = every user. */
  userIds: string[];
}

/** What the run's end reads from a stream: how far it got, and a way to end it. */
export interface WatchHandle {
  readonly stream: string;
  /** The last `revision` the stream reported (every event up to it delivered); undefined before any. */
  lastRevision(): number | undefined;
  /** Ends the current Watch call; the loop does not open another. */
  close(): void;
  done: Promise<void>;
}

/**
 * A router's Watch stream that never ends for the router: after ANY end of a Watch call (an error, a
 * connection lost, or a normal end when an instance drains) it watches again from the last revision + 1,
 * on the other instance or the same one.
 */
export function watchWorker(
  ctx: WorkerContext,
  clients: RegistryClient[],
  options: WatchOptions,
): WatchHandle {
  let last: number | undefined;
  let closed = false;
  let current: AbortController | undefined;
  const { random, history } = ctx;

  const loop = async () => {
    let instance = random.int(0, clients.length - 1);
    while (!closed) {
      const controller = new AbortController();
      current = controller;
      const startRevision = last === undefined ? 0 : last + 1;
      const segment = history.openWatch({ stream: ctx.name, instance, startRevision });
      // Routers reconnect now and then on their own (a deploy, a rebalance): every resume is checked.
      let recycled = false;
      const recycle = setTimeout(
        () => {
          recycled = true;
          controller.abort();
        },
        random.int(5_000, 20_000),
      );
      try {
        const responses = clients[instance]!.watch(
          { userIds: options.userIds, startRevision: BigInt(startRevision) },
          { signal: controller.signal },
        );
        for await (const response of responses) {
          const revision = Number(response.revision);
          if (segment.firstRevision === undefined) segment.firstRevision = revision;
          segment.responses.push({ atMs: history.now(), revision, events: response.events.map(toRecord) });
          last = revision;
        }
        segment.end = "normal";
      } catch (error) {
        if (closed) segment.end = "aborted";
        else if (recycled) segment.end = "recycled";
        else {
          const { code, message } = classify(error);
          segment.end = code;
          segment.message = message;
          if (!(error instanceof ConnectError)) segment.message = String(error).slice(0, 200);
        }
      }
      clearTimeout(recycle);
      segment.endMs = history.now();
      // Not ctx.stop: streams outlive the workload until they reached etcd's final revision.
      if (closed) break;
      await sleep(random.int(100, 400));
      if (random.chance(0.5)) instance = (instance + 1) % clients.length;
    }
  };

  const done = loop();
  return {
    stream: ctx.name,
    lastRevision: () => last,
    close() {
      closed = true;
      current?.abort();
    },
    done,
  };
}

function toRecord(event: {
  type: WatchEvent_Type;
  revision: bigint;
  location?: { userId: string; deviceId: string; gatewayNode: string; leaseId: bigint };
}): WatchEventRecord {
  return {
    revision: Number(event.revision),
    type: event.type === WatchEvent_Type.DELETE ? "delete" : "put",
    userId: event.location?.userId ?? "",
    deviceId: event.location?.deviceId ?? "",
    gatewayNode: event.location?.gatewayNode ?? "",
    leaseId: String(event.location?.leaseId ?? 0n),
  };
}
