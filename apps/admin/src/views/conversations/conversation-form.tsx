import type { Conversation } from "@im-core/proto";
import { type FormEvent, useId, useState } from "react";

export type ConversationInput =
  | { kind: "group"; groupId: string }
  | { kind: "private"; userA: string; userB: string };

export function toConversation(input: ConversationInput): Omit<Conversation, "$typeName"> {
  return input.kind === "group"
    ? { kind: { case: "groupId", value: input.groupId } }
    : {
        kind: {
          case: "privateChat",
          value: { $typeName: "im.sequence.v1.PrivateChat", userA: input.userA, userB: input.userB },
        },
      };
}

export function describeConversation(input: ConversationInput): string {
  return input.kind === "group" ? `group ${input.groupId}` : `private chat ${input.userA} ↔ ${input.userB}`;
}

/** Names one conversation: a group by id, or a private chat by its two users (in either order). */
export function ConversationForm({ onSubmit }: { onSubmit: (input: ConversationInput) => void }) {
  const [kind, setKind] = useState<ConversationInput["kind"]>("group");
  const ids = { group: useId(), userA: useId(), userB: useId(), kind: useId() };

  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const text = (name: string) => String(form.get(name) ?? "").trim();
    onSubmit(
      kind === "group"
        ? { kind, groupId: text("groupId") }
        : { kind, userA: text("userA"), userB: text("userB") },
    );
  };

  return (
    <form className="inline-form" onSubmit={submit}>
      <fieldset>
        <legend id={ids.kind}>Conversation</legend>
        <label>
          <input type="radio" name="kind" checked={kind === "group"} onChange={() => setKind("group")} />{" "}
          Group
        </label>
        <label>
          <input type="radio" name="kind" checked={kind === "private"} onChange={() => setKind("private")} />{" "}
          Private chat
        </label>
      </fieldset>
      {kind === "group" ? (
        <>
          <label htmlFor={ids.group}>Group id</label>
          <input id={ids.group} name="groupId" required autoComplete="off" spellCheck={false} />
        </>
      ) : (
        <>
          <label htmlFor={ids.userA}>First user</label>
          <input id={ids.userA} name="userA" required autoComplete="off" spellCheck={false} />
          <label htmlFor={ids.userB}>Second user</label>
          <input id={ids.userB} name="userB" required autoComplete="off" spellCheck={false} />
        </>
      )}
      <button type="submit">Show current number</button>
    </form>
  );
}
