import { test } from "@fast-check/vitest";
import { idArb } from "@im-core/testkit";
import fc from "fast-check";
import { describe, expect } from "vitest";
import { type ConversationRef, groupChat, privateChat } from "./conversation.js";

const conversationArb: fc.Arbitrary<{ made: ConversationRef; identity: string }> = fc.oneof(
  idArb.map((g) => ({ made: groupChat(g), identity: JSON.stringify(["g", g]) })),
  fc
    .tuple(idArb, idArb)
    .filter(([a, b]) => a !== b)
    .map(([a, b]) => ({ made: privateChat(a, b), identity: JSON.stringify(["p", ...[a, b].sort()]) })),
);

/** The Redis Cluster hash tag: text between the first '{' and the first '}' after it. */
function hashTag(key: string): string {
  const open = key.indexOf("{");
  return key.slice(open + 1, key.indexOf("}", open + 1));
}

describe("conversation keys", () => {
  test.prop([idArb, idArb])("a private chat is the same conversation in either order", (a, b) => {
    expect(privateChat(a, b)).toEqual(privateChat(b, a));
  });

  test.prop([conversationArb, conversationArb], { numRuns: 500 })(
    "distinct conversations never share a key, a row id or a hash tag, whatever their characters",
    (x, y) => {
      const same = x.identity === y.identity;
      expect(x.made.key === y.made.key).toBe(same);
      expect(x.made.id === y.made.id).toBe(same);
      expect(hashTag(x.made.key) === hashTag(y.made.key)).toBe(same);
    },
  );

  test.prop([conversationArb])("the whole key body is its hash tag", ({ made }) => {
    expect(made.key).toBe(`seq:{${hashTag(made.key)}}`);
  });

  test.prop([fc.constantFrom(["a:b", "c"], ["a", "b:c"], ["a%3Ab", "c"], ["{", "}"], ["a}", "{b"])])(
    "separator look-alikes stay apart",
    ([a, b]) => {
      expect(privateChat(a, b).key).not.toBe(privateChat(`${a}:${b}`, "").key);
      expect(groupChat(`${a}:${b}`).key).not.toBe(privateChat(a, b).key);
    },
  );
});
