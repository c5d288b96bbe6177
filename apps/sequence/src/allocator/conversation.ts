import { hash } from "node:crypto";
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
  const body =
    partB === null
      ? `${tag}:${encodeURIComponent(partA)}`
      : `${tag}:${encodeURIComponent(partA)}:${encodeURIComponent(partB)}`;
  return new Conversation(body, type, partA, partB);
}

class Conversation implements ConversationRef {
  readonly key: string;
  readonly #body: string;
  #id: string | undefined;

  constructor(
    body: string,
    readonly type: "private" | "group",
    readonly partA: string,
    readonly partB: string | null,
  ) {
    this.key = `seq:{${body}}`;
    this.#body = body;
  }

  /**
   * Keys reach ~1.5 kB; the backup row and its lock need something short and fixed. Hashed when the
   * backup first needs it (a first touch, a re-seed), not on the Redis-only calls that are most of them.
   */
  get id(): string {
    this.#id ??= hash("sha256", this.#body, "hex");
    return this.#id;
  }
}
