import type { HandlerContext } from "@connectrpc/connect";
import type { BatchNextRequest, CurrentRequest, NextRequest } from "@im-core/proto";
import { invalidArgument } from "@im-core/service-kit";
import { toRange } from "./convert.js";
import type { SequenceDeps } from "./index.js";
import { conversationOf, countOf, MAX_BATCH_ITEMS, MAX_BATCH_NUMBERS } from "./validate.js";

export function numberHandlers({ allocator }: SequenceDeps) {
  return {
    async next(request: NextRequest, context: HandlerContext) {
      const conversation = conversationOf("conversation", request.conversation);
      const count = countOf("count", request.count);
      return toRange(await allocator.next(conversation, count, { signal: context.signal }));
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
      return { ranges: (await allocator.nextMany(parsed, { signal: context.signal })).map(toRange) };
    },
  };
}
