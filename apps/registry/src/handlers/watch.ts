import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { type WatchRequest, type WatchResponse, WatchResponseSchema } from "@im-core/proto";
import { callerKey } from "@im-core/service-kit";
import type { WatchHandle } from "@im-core/stores/etcd";
import { Subscription } from "@im-core/stores/mirror";
import { requireOwnWatch } from "../access.js";
import { toWatchResponse } from "./convert.js";
import type { RegistryDeps } from "./index.js";
import { requireRevision, requireUserIds } from "./validate.js";

interface Feed {
  subscription: Subscription;
  /** The revision the stream starts after: the first response's `revision`. */
  startsAfter: number;
}

export function watchHandlers(deps: RegistryDeps) {
  /**
   * The mirror's shared feed when it can serve the start point (live, and the start within its recent
   * history); otherwise a watch of this stream's own from etcd, which also reports a compacted start.
   */
  async function openFeed(
    start: number | undefined,
    users: ReadonlySet<string> | undefined,
    gateways: ReadonlySet<string> | undefined,
    signal: AbortSignal,
  ) {
    const shared = deps.mirror.subscribe(start, users, deps.onWatchLag, gateways);
    if (shared) return shared;
    if (start !== undefined) await deps.store.assertHistoryFrom(start, { signal });
    const from = start ?? (await deps.store.currentRevision({ signal })) + 1;
    let handle: WatchHandle | undefined;
    const subscription = new Subscription({
      users,
      gateways,
      fromRevision: from,
      maxBacklog: deps.watchBacklog,
      onClose: () => handle?.close(),
      onOverflow: deps.onWatchLag,
    });
    handle = deps.store.watch(from, {
      batch: (b) => subscription.push(b),
      error: (e) => subscription.fail(e),
    });
    return { subscription, startsAfter: from - 1 } satisfies Feed;
  }

  return {
    async *watch(request: WatchRequest, context: HandlerContext): AsyncGenerator<WatchResponse> {
      const users = request.userIds.length > 0 ? new Set(requireUserIds(request.userIds)) : undefined;
      // Gateway nodes are addresses, checked like user ids (non-empty, bounded, no control characters).
      const gateways =
        request.gatewayNodes.length > 0
          ? new Set(requireUserIds(request.gatewayNodes, "gateway_nodes"))
          : undefined;
      requireOwnWatch(context.values.get(callerKey), request.gatewayNodes);
      const start = requireRevision(request.startRevision, "start_revision") || undefined;
      const stop = () => feed?.subscription.close();
      let feed: Feed | undefined;
      context.signal.addEventListener("abort", stop);
      deps.draining.addEventListener("abort", stop);
      try {
        if (deps.draining.aborted) throw shuttingDown(start === undefined ? undefined : start - 1);
        feed = await openFeed(start, users, gateways, context.signal);
        if (context.signal.aborted) return;
        if (deps.draining.aborted) throw shuttingDown(feed.startsAfter);
        yield create(WatchResponseSchema, { revision: BigInt(feed.startsAfter) });
        let last = feed.startsAfter;
        for await (const batch of feed.subscription) {
          yield toWatchResponse(batch);
          last = batch.revision;
        }
        // A normal end would read as "finished" to a generic client, which would never resume.
        if (deps.draining.aborted) throw shuttingDown(last);
      } finally {
        context.signal.removeEventListener("abort", stop);
        deps.draining.removeEventListener("abort", stop);
        feed?.subscription.close();
      }
    },
  };
}

/** Why a Watch stream ends when its instance drains: the client must resume, elsewhere. */
function shuttingDown(lastRevision: number | undefined): ConnectError {
  const resume =
    lastRevision === undefined
      ? "watch again"
      : `resume on another instance with start_revision ${lastRevision + 1} (the revision after the last one received)`;
  return new ConnectError(`this registry instance is shutting down: ${resume}`, Code.Unavailable);
}
