import type { MessageInitShape } from "@bufbuild/protobuf";
import type { ConversationSchema } from "@im-core/proto/sequence/v1";

/** A conversation as the generated client accepts it: `{ kind: { case: "groupId", value: "g1" } }`. */
export type ConversationInit = MessageInitShape<typeof ConversationSchema>;

/** A group conversation. */
export function group(groupId: string): ConversationInit {
  return { kind: { case: "groupId", value: groupId } };
}

/** A one-to-one chat; the same conversation whichever way round the users are given. */
export function privateChat(userA: string, userB: string): ConversationInit {
  return { kind: { case: "privateChat", value: { userA, userB } } };
}

/**
 * One string per conversation, equal for the same conversation however it was written (a private chat's
 * users in either order), so calls for it can be kept in order. IDs never hold control characters, so
 * NUL cannot occur inside one. A conversation with no kind gets a key of its own: the service rejects it.
 */
export function conversationKey(conversation: ConversationInit): string {
  const kind = conversation.kind;
  if (kind?.case === "groupId") return `g\0${kind.value}`;
  if (kind?.case === "privateChat") {
    const a = kind.value.userA ?? "";
    const b = kind.value.userB ?? "";
    return a < b ? `p\0${a}\0${b}` : `p\0${b}\0${a}`;
  }
  return "?";
}
