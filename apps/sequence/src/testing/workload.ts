import { isStoreError } from "@im-core/common";
import type { SequenceAllocator, SequenceRange } from "../allocator/allocator.js";
import { type ConversationRef, groupChat, privateChat } from "../allocator/conversation.js";

export interface Call extends SequenceRange {
  readonly conversation: ConversationRef;
  readonly caller: number;
  readonly startedAt: number;
  readonly endedAt: number;
}

export interface WorkloadOptions {
  instances: readonly SequenceAllocator[];
  conversations: readonly ConversationRef[];
  callers: number;
  /** One entry per call a caller makes: the count to ask for. */
  counts: readonly number[];
  /** Run (awaited) once `after` calls have been made in total, while the other callers go on. */
  faults?: readonly { after: number; inject: () => Promise<void> }[];
}

/**
 * Many concurrent callers, each spreading its calls over every instance and conversation. Calls
 * refused as `unavailable` (expected while a fault is injected) are retried after a pause and
 * not recorded; any other error fails the run.
 */
export async function runWorkload(opts: WorkloadOptions): Promise<{ calls: Call[]; refused: number }> {
  const calls: Call[] = [];
  const pending = [...(opts.faults ?? [])].sort((a, b) => a.after - b.after);
  let made = 0;
  let refused = 0;
  // One fault at a time, in order: two restarts of one server must not overlap (calls are fast
  // enough now that the next fault's turn often comes while the previous one is still running).
  let faults = Promise.resolve();

  const caller = async (id: number) => {
    for (let i = 0; i < opts.counts.length; i += 1) {
      const count = opts.counts[i]!;
      const conversation = opts.conversations[(id + i) % opts.conversations.length]!;
      const allocator = opts.instances[(id * 7 + i) % opts.instances.length]!;
      made += 1;
      while (pending[0] && pending[0].after <= made) {
        const fault = pending.shift()!;
        faults = faults.then(() => fault.inject());
      }
      for (let refusals = 0; ; refusals += 1) {
        const startedAt = performance.now();
        try {
          const range = await allocator.next(conversation, count);
          calls.push({ ...range, conversation, caller: id, startedAt, endedAt: performance.now() });
          break;
        } catch (error) {
          // Faults are brief: a service still refusing after ~3 s has not recovered by itself.
          if (!isStoreError(error) || error.kind !== "unavailable" || refusals === 150) throw error;
          refused += 1;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      }
    }
  };
  await Promise.all(Array.from({ length: opts.callers }, (_, id) => caller(id)));
  await faults;
  return { calls, refused };
}

/**
 * The guarantees, per conversation: ranges never overlap, and a call
 * that started after another one ended got larger numbers (so every caller's numbers increase).
 */
export function checkGuarantees(calls: readonly Call[]): void {
  const byConversation = new Map<string, Call[]>();
  for (const call of calls) {
    const list = byConversation.get(call.conversation.key);
    if (list) list.push(call);
    else byConversation.set(call.conversation.key, [call]);
  }
  for (const [key, list] of byConversation) {
    const byFirst = [...list].sort((a, b) => a.first - b.first);
    for (let i = 1; i < byFirst.length; i += 1) {
      const [prev, cur] = [byFirst[i - 1]!, byFirst[i]!];
      if (cur.first <= prev.last) {
        throw new Error(`${key}: [${prev.first},${prev.last}] and [${cur.first},${cur.last}] overlap`);
      }
    }
    const byEnd = [...list].sort((a, b) => a.endedAt - b.endedAt);
    for (const call of list) {
      let highestBefore = 0;
      for (const earlier of byEnd) {
        if (earlier.endedAt >= call.startedAt) break;
        highestBefore = Math.max(highestBefore, earlier.last);
      }
      if (call.first <= highestBefore) {
        throw new Error(`${key}: [${call.first},${call.last}] handed out after ${highestBefore} was`);
      }
    }
  }
}

/** `n` conversations never used before, half groups and half private chats. */
export function newConversations(prefix: string, n: number): ConversationRef[] {
  return Array.from({ length: n }, (_, i) =>
    i % 2 === 0 ? groupChat(`${prefix}-${i}`) : privateChat(`${prefix}-a${i}`, `${prefix}-b${i}`),
  );
}
