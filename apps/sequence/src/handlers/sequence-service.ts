import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { ConversationType, type SequenceService } from "@im-core/proto";
import { invalidArgument } from "@im-core/service-kit";
import type { MySqlSequenceBackup, Snapshot } from "@im-core/stores/mysql";
import type { SequenceAllocator, SequenceRange } from "../allocator/allocator.js";
import { decodePageToken, encodePageToken } from "./page-token.js";
import { conversationOf, countOf, MAX_BATCH_ITEMS } from "./validate.js";

export interface SequenceHandlerDeps {
  allocator: SequenceAllocator;
  backup: MySqlSequenceBackup;
}

const DEFAULT_PAGE_SIZE = 100;
const MAX_PAGE_SIZE = 1_000;

const typeFilter = {
  [ConversationType.UNSPECIFIED]: undefined,
  [ConversationType.PRIVATE]: "private",
  [ConversationType.GROUP]: "group",
} as const;

/** The RPCs of im.sequence.v1.SequenceService: validate, then delegate to the allocator. */
export function sequenceHandlers({
  allocator,
  backup,
}: SequenceHandlerDeps): ServiceImpl<typeof SequenceService> {
  return {
    async next(request, context) {
      const conversation = conversationOf("conversation", request.conversation);
      return wire(
        await allocator.next(conversation, countOf("count", request.count), { signal: context.signal }),
      );
    },

    async current(request) {
      return {
        sequence: BigInt(await allocator.current(conversationOf("conversation", request.conversation))),
      };
    },

    async batchNext(request, context) {
      const { items } = request;
      if (items.length === 0) throw invalidArgument("items", "must not be empty");
      if (items.length > MAX_BATCH_ITEMS)
        throw invalidArgument("items", `must have at most ${MAX_BATCH_ITEMS} entries`);
      const parsed = items.map((item, i) => ({
        conversation: conversationOf(`items[${i}].conversation`, item.conversation),
        count: countOf(`items[${i}].count`, item.count),
      }));
      return { ranges: (await allocator.nextMany(parsed, { signal: context.signal })).map(wire) };
    },

    async listSnapshots(request) {
      if (!(request.type in typeFilter))
        throw invalidArgument("type", `unknown conversation type ${request.type}`);
      if (request.pageSize < 0 || request.pageSize > MAX_PAGE_SIZE) {
        throw invalidArgument("page_size", `must be between 0 and ${MAX_PAGE_SIZE}`);
      }
      const limit = request.pageSize === 0 ? DEFAULT_PAGE_SIZE : request.pageSize;
      const afterId = decodePageToken("page_token", request.pageToken);
      const type = typeFilter[request.type as keyof typeof typeFilter];
      // One row more than asked says whether another page follows.
      const rows = await backup.page({ type, afterId, limit: limit + 1 });
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return {
        snapshots: page.map(toSnapshot),
        nextPageToken: rows.length > limit && last ? encodePageToken(last.id) : "",
      };
    },
  };
}

function toSnapshot(row: Snapshot) {
  const isPrivate = row.type === "private";
  return {
    conversation: {
      kind: isPrivate
        ? { case: "privateChat" as const, value: { userA: row.partA, userB: row.partB ?? "" } }
        : { case: "groupId" as const, value: row.partA },
    },
    type: isPrivate ? ConversationType.PRIVATE : ConversationType.GROUP,
    reservedCeiling: BigInt(row.ceiling),
    updatedAt: timestampFromDate(row.updatedAt),
  };
}

// Numbers stay below 2^53 internally (exact as JavaScript numbers); int64 on the wire is a bigint.
function wire({ first, last }: SequenceRange) {
  return { first: BigInt(first), last: BigInt(last) };
}
