import { test } from "@fast-check/vitest";
import type { Conversation } from "@im-core/proto";
import { idArb, invalidIdArb } from "@im-core/testkit";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodePageToken, encodePageToken } from "./page-token.js";
import { conversationOf, countOf } from "./validate.js";

const privateConversation = (userA: string, userB: string) =>
  ({ kind: { case: "privateChat", value: { userA, userB } } }) as Conversation;
const group = (value: string) => ({ kind: { case: "groupId", value } }) as Conversation;

describe("request validation", () => {
  it("names the field that is wrong", () => {
    expect(() => conversationOf("conversation", undefined)).toThrow("conversation: must be set");
    expect(() => conversationOf("conversation", { kind: { case: undefined } } as Conversation)).toThrow(
      "conversation: must be set",
    );
    expect(() => conversationOf("conversation", privateConversation("", "b"))).toThrow(
      "conversation.private_chat.user_a: must not be empty",
    );
    expect(() => conversationOf("items[3].conversation", privateConversation("a", "a"))).toThrow(
      "items[3].conversation.private_chat: user_a and user_b must differ",
    );
    expect(() => conversationOf("conversation", group("x\u0000"))).toThrow(
      "conversation.group_id: must not contain control characters",
    );
    expect(() => conversationOf("conversation", group("a\ud800"))).toThrow("lone surrogate");
    expect(() => countOf("items[3].count", 10_001)).toThrow("items[3].count: must be at most 10000");
    expect(countOf("count", 0)).toBe(1);
    expect(countOf("count", 10_000)).toBe(10_000);
  });

  test.prop([invalidIdArb, idArb])("rejects every invalid ID with INVALID_ARGUMENT", (bad, good) => {
    expect(() => conversationOf("c", group(bad))).toThrow(/^\[invalid_argument\] c\.group_id: /);
    expect(() => conversationOf("c", privateConversation(good, bad))).toThrow(/c\.private_chat\.user_b: /);
  });

  test.prop([idArb])("accepts every valid ID", (id) => {
    expect(conversationOf("c", group(id)).partA).toBe(id);
  });
});

describe("page tokens", () => {
  test.prop([fc.stringMatching(/^[0-9a-f]{64}$/)])("round-trip", (id) => {
    expect(decodePageToken("page_token", encodePageToken(id))).toBe(id);
  });

  test.prop([fc.string({ minLength: 1 })])("anything else is INVALID_ARGUMENT", (token) => {
    fc.pre(!/^[A-Za-z0-9_-]{80,}$/.test(token));
    expect(() => decodePageToken("page_token", token)).toThrow(
      "page_token: is not a token from a previous response",
    );
  });
});
