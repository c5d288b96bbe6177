import type { MessageInitShape } from "@bufbuild/protobuf";
import type { ConversationSchema } from "@im-core/proto";
import type { SequenceClient } from "../clients.js";
import { CALL_TIMEOUT_MS, pause, type WorkerContext } from "./context.js";

/** A conversation as the history names it, and as the request carries it. */
export interface ChatRef {
  key: string;
  conversation: MessageInitShape<typeof ConversationSchema>;
}

/** A bounded set of conversations: a few groups and private chats, so every one is hot and contended. */
export function conversations(groups: number, privates: number): ChatRef[] {
  const refs: ChatRef[] = [];
  for (let i = 0; i < groups; i++) {
    refs.push({ key: `g:chaos-${i}`, conversation: { kind: { case: "groupId", value: `chaos-${i}` } } });
  }
  for (let i = 0; i < privates; i++) {
    const [a, b] = [`alice-${i}`, `bob-${i}`];
    refs.push({
      key: `p:${a}:${b}`,
      conversation: { kind: { case: "privateChat", value: { userA: a, userB: b } } },
    });
  }
  return refs;
}

/**
 * A gateway taking numbers: Next or BatchNext on a random instance, one call after another, so its own
 * acknowledged ranges of each conversation must come out strictly increasing.
 */
export async function sequenceWorker(
  ctx: WorkerContext,
  clients: SequenceClient[],
  chats: ChatRef[],
  pauseMs: number,
): Promise<void> {
  const { random, history } = ctx;
  while (!ctx.stop.aborted) {
    const instance = random.int(0, clients.length - 1);
    const client = clients[instance]!;
    const meta = { worker: ctx.name, service: "sequence" as const, instance };
    let failed: boolean;
    if (random.chance(0.6)) {
      const chat = random.pick(chats);
      const count = random.int(1, 5);
      const record = await history.record(
        { ...meta, rpc: "Next", args: { conversation: chat.key, count } },
        () => client.next({ conversation: chat.conversation, count }, { timeoutMs: CALL_TIMEOUT_MS }),
        (r) => ({ first: Number(r.first), last: Number(r.last) }),
      );
      failed = record.outcome !== "ok";
    } else {
      // Sometimes the same conversation twice: it must get consecutive ranges in request order.
      const items = Array.from({ length: random.int(1, 4) }, () => ({
        chat: random.pick(chats),
        count: random.int(1, 3),
      }));
      const record = await history.record(
        {
          ...meta,
          rpc: "BatchNext",
          args: { items: items.map((i) => ({ conversation: i.chat.key, count: i.count })) },
        },
        () =>
          client.batchNext(
            { items: items.map((i) => ({ conversation: i.chat.conversation, count: i.count })) },
            { timeoutMs: CALL_TIMEOUT_MS },
          ),
        (r) => ({
          ranges: r.ranges.map((range) => ({ first: Number(range.first), last: Number(range.last) })),
        }),
      );
      failed = record.outcome !== "ok";
    }
    // Back off after a failure as a client would, so an outage is not a busy loop on two cores.
    if (!(await pause(ctx.stop, failed ? random.int(100, 300) : pauseMs))) return;
  }
}
