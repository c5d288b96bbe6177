import { createHash } from "node:crypto";
import type { BackupConversation } from "@im-core/stores/mysql";

/** A conversation as the stores see it: its Redis key, and its backup row's identity. */
export interface ConversationRef extends BackupConversation {
  /** `seq:{<body>}`: the braces make the whole key its own Redis Cluster hash tag. */
  readonly key: string;
}

/**
 * A one-to-one chat. Either order gives the same conversation (the pair is sorted).
 * IDs must already be valid: non-empty, well-formed UTF-16 (a lone surrogate has no encoding).
 */
export function privateChat(userA: string, userB: string): ConversationRef {
  const [a, b] = userA < userB ? [userA, userB] : [userB, userA];
  return conversation("private", a, b);
}

export function groupChat(groupId: string): ConversationRef {
  return conversation("group", groupId, null);
}

/**
 * The key body is a type tag followed by the percent-encoded parts, joined by ':'. Percent-encoding
 * is injective and never emits ':', '{' or '}', so the parts split back unambiguously (`a:b`+`c`
 * and `a`+`b:c` differ) and the body cannot end the hash tag early.
 */
function conversation(type: "private" | "group", partA: string, partB: string | null): ConversationRef {
  const tag = type === "private" ? "p" : "g";
  const parts = partB === null ? [partA] : [partA, partB];
  const body = [tag, ...parts.map(encodeURIComponent)].join(":");
  // Keys reach ~1.5 kB; the backup row and its lock need something short and fixed.
  const id = createHash("sha256").update(body).digest("hex");
  return { key: `seq:{${body}}`, id, type, partA, partB };
}
