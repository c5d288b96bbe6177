import type { HandlerContext } from "@connectrpc/connect";
import type { BatchNextRequest, CurrentRequest, NextRequest } from "@im-core/proto";
import { callerKey, invalidArgument, type RateLimiter, rateLimited } from "@im-core/service-kit";
import type { FirstTouchGate } from "../allocator/allocator.js";
import { toRange } from "./convert.js";
import type { SequenceDeps } from "./index.js";
import { conversationOf, countOf, MAX_BATCH_ITEMS, MAX_BATCH_NUMBERS } from "./validate.js";

/**
 * The caller's token pays for each conversation it starts: a call naming new conversations past its
 * rate is answered RESOURCE_EXHAUSTED with a retry hint. Without auth there is no token to charge.
 * One gate per token (tokens come from the configuration, so the map stays small).
 */
function firstTouchGates(limiter: RateLimiter) {
  const gates = new Map<string, FirstTouchGate>();
  return (context: HandlerContext): FirstTouchGate | undefined => {
    const token = context.values.get(callerKey)?.tokenId;
    if (token === undefined) return undefined;
    let gate = gates.get(token);
    if (!gate) {
      gate = {
        admit() {
          const wait = limiter.wait(token);
          return wait > 0 ? rateLimited("new conversations", wait) : undefined;
        },
        charge: () => limiter.charge(token),
      };
      gates.set(token, gate);
    }
    return gate;
  };
}

export function numberHandlers({ allocator, newConversations }: SequenceDeps) {
  const firstTouchGate = firstTouchGates(newConversations);
  return {
    async next(request: NextRequest, context: HandlerContext) {
      const conversation = conversationOf("conversation", request.conversation);
      const count = countOf("count", request.count);
      const firstTouch = firstTouchGate(context);
      return toRange(await allocator.next(conversation, count, { signal: context.signal, firstTouch }));
    },

    async current(request: CurrentRequest) {
      const conversation = conversationOf("conversation", request.conversation);
      return { sequence: BigInt(await allocator.current(conversation)) };
    },

    async batchNext(request: BatchNextRequest, context: HandlerContext) {
      const { items } = request;
      if (items.length === 0) throw invalidArgument("items", "must not be empty");
      if (items.length > MAX_BATCH_ITEMS)
        throw invalidArgument("items", `must have at most ${MAX_BATCH_ITEMS} entries`);
      const parsed = items.map((item, i) => ({
        conversation: conversationOf(`items[${i}].conversation`, item.conversation),
        count: countOf(`items[${i}].count`, item.count),
      }));
      const total = parsed.reduce((sum, item) => sum + item.count, 0);
      if (total > MAX_BATCH_NUMBERS) {
        throw invalidArgument(
          "items",
          `must ask for at most ${MAX_BATCH_NUMBERS} numbers in all, asked for ${total}`,
        );
      }
      const firstTouch = firstTouchGate(context);
      const ranges = await allocator.nextMany(parsed, { signal: context.signal, firstTouch });
      return { ranges: ranges.map(toRange) };
    },
  };
}
