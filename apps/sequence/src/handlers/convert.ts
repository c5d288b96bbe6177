import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { ConversationType } from "@im-core/proto";
import { invalidArgument } from "@im-core/service-kit";
import type { CeilingRow, ConversationType as RowType } from "@im-core/stores/mysql";
import type { SequenceRange } from "../allocator/allocator.js";

// Numbers stay below 2^53 internally (exact as JavaScript numbers); int64 on the wire is a bigint.
export function toRange({ first, last }: SequenceRange) {
  return { first: BigInt(first), last: BigInt(last) };
}

export function toSnapshot(row: CeilingRow) {
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

const rowTypes: Record<number, RowType | undefined> = {
  [ConversationType.UNSPECIFIED]: undefined,
  [ConversationType.PRIVATE]: "private",
  [ConversationType.GROUP]: "group",
};

/** The backup rows' type a ListSnapshots filter names; undefined for every type. */
export function typeFilterOf(field: string, type: ConversationType): RowType | undefined {
  if (!(type in rowTypes)) throw invalidArgument(field, `unknown conversation type ${type}`);
  return rowTypes[type];
}
