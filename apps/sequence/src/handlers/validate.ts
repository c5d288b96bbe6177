import type { Conversation } from "@im-core/proto";
import { invalidArgument, validateId } from "@im-core/service-kit";
import { type ConversationRef, groupChat, privateChat } from "../allocator/conversation.js";

/** Most numbers one Next (or one BatchNext item) may ask for. */
export const MAX_COUNT = 10_000;
/** Most items in one BatchNext, and most numbers they may ask for in all. */
export const MAX_BATCH_ITEMS = 1_000;
export const MAX_BATCH_NUMBERS = 100_000;
/** Rows of a ListSnapshots page: by default, and at most. */
export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1_000;

/** The conversation a request names, or INVALID_ARGUMENT naming the offending field under `field`. */
export function conversationOf(field: string, conversation: Conversation | undefined): ConversationRef {
  const kind = conversation?.kind;
  switch (kind?.case) {
    case "privateChat": {
      const { userA, userB } = kind.value;
      validateId(`${field}.private_chat.user_a`, userA);
      validateId(`${field}.private_chat.user_b`, userB);
      if (userA === userB) throw invalidArgument(`${field}.private_chat`, "user_a and user_b must differ");
      return privateChat(userA, userB);
    }
    case "groupId":
      validateId(`${field}.group_id`, kind.value);
      return groupChat(kind.value);
    default:
      throw invalidArgument(field, "must be set (private_chat or group_id)");
  }
}

/** 0 (unset) means 1. */
export function countOf(field: string, count: number): number {
  if (count > MAX_COUNT) throw invalidArgument(field, `must be at most ${MAX_COUNT}`);
  return count === 0 ? 1 : count;
}

/** 0 (unset) means the default page size. */
export function pageSizeOf(field: string, pageSize: number): number {
  if (pageSize < 0 || pageSize > MAX_PAGE_SIZE) {
    throw invalidArgument(field, `must be between 0 and ${MAX_PAGE_SIZE}`);
  }
  return pageSize === 0 ? DEFAULT_PAGE_SIZE : pageSize;
}
