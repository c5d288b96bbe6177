import { Code, ConnectError } from "@connectrpc/connect";
import { sleep } from "@im-core/common";
import { httpGet } from "@im-core/testkit";
import { describe, expect, it } from "vitest";
import { abuseStack, timed, tokens } from "./testing/stack.js";

/**
 * A gateway token (stolen, or a broken gateway) naming new conversations as fast as it can: each one's
 * first number needs a MySQL lock round, so unchecked it starves every other gateway's new
 * conversations. Its token may start SEQUENCE_NEW_CONVERSATION_RATE per second (ten seconds' worth at
 * once); past that it is refused before any MySQL work, with a retry hint.
 */

const RATE = 20; // so the burst (200) is spent within the first second of the attack
const stack = abuseStack({ SEQUENCE_NEW_CONVERSATION_RATE: String(RATE) });
const ATTACK = { workers: 8, itemsPerCall: 1_000, durationMs: 3_000 };

/** Counters seeded so far (a new conversation's first touch, or a counter lost with Redis). */
async function seeds(): Promise<number> {
  await sleep(1_100); // /metrics is rendered at most once a second
  const { body } = await httpGet(`${stack.servers.sequence.url}/metrics`);
  const seeded = /^sequence_reservations_total\{reason="seed",[^}]*\} (\d+)$/m.exec(body)?.[1];
  if (seeded === undefined) throw new Error(`no seed counter in /metrics:\n${body}`);
  return Number(seeded);
}

/** The code's name a call ended with ("OK" when it succeeded), and its error. */
async function outcome(call: Promise<unknown>): Promise<[string, ConnectError | undefined]> {
  try {
    await call;
    return ["OK", undefined];
  } catch (error) {
    const e = ConnectError.from(error);
    return [Code[e.code], e];
  }
}

const group = (id: string) => ({ kind: { case: "groupId" as const, value: id } });

describe("a flood of new conversations from one gateway token", () => {
  it("is refused past the token's rate, while another gateway's new and started conversations stay fast", async () => {
    const attacker = stack.clients(tokens.gateway).sequence;
    const victim = stack.clients(tokens.otherGateway).sequence;
    const started = group("victim-started");
    await victim.next({ conversation: started }, { signal: AbortSignal.timeout(10_000) });
    let victimNew = 0;
    const victimCalls = async () => ({
      firstTouchMs: await timed(
        (signal) => victim.next({ conversation: group(`victim-new-${victimNew++}`) }, { signal }),
        5_000,
      ),
      startedMs: await timed((signal) => victim.next({ conversation: started }, { signal }), 5_000),
    });
    const seedsBefore = await seeds();

    const codes: Record<string, number> = {};
    const retryHints: number[] = [];
    let named = 0;
    const begun = performance.now();
    const worker = async (w: number) => {
      for (let call = 0; performance.now() - begun < ATTACK.durationMs; call += 1) {
        const items = Array.from({ length: ATTACK.itemsPerCall }, (_, i) => ({
          conversation: group(`attack-${w}-${call}-${i}`),
        }));
        named += items.length;
        const [code, error] = await outcome(attacker.batchNext({ items }));
        codes[code] = (codes[code] ?? 0) + 1;
        const hint = error?.metadata.get("retry-after-ms");
        if (hint) retryHints.push(Number(hint));
      }
    };
    const attack = Promise.all(Array.from({ length: ATTACK.workers }, (_, w) => worker(w)));
    await sleep(1_000);
    const during = await victimCalls();
    await attack;
    const elapsedS = (performance.now() - begun) / 1_000;
    const after = await victimCalls();
    const seeded = (await seeds()) - seedsBefore;

    console.log(
      `new-conversation flood (${ATTACK.workers} workers of BatchNext × ${ATTACK.itemsPerCall} new ` +
        `conversations, ${ATTACK.durationMs} ms, rate ${RATE}/s per token):\n` +
        `  attacker: ${named} conversations named, answers ${JSON.stringify(codes)}, ` +
        `retry hints ${Math.min(...retryHints)}–${Math.max(...retryHints)} ms\n` +
        `  counters seeded: ${seeded} (the victim's 2 included) in ${elapsedS.toFixed(1)} s\n` +
        `  victim during: first touch ${during.firstTouchMs.toFixed(1)} ms, started conversation ${during.startedMs.toFixed(1)} ms\n` +
        `  victim after: first touch ${after.firstTouchMs.toFixed(1)} ms, started conversation ${after.startedMs.toFixed(1)} ms`,
    );

    expect(codes.ResourceExhausted ?? 0).toBeGreaterThan(0);
    expect(retryHints.length).toBe(codes.ResourceExhausted);
    for (const hint of retryHints) expect(hint).toBeGreaterThan(0);
    // The burst, the refill while it ran, and the seeds already in MySQL when the debt began.
    expect(seeded).toBeLessThanOrEqual(RATE * 10 + RATE * Math.ceil(elapsedS) + 8 + 2);
    for (const measured of [during, after]) {
      expect(measured.firstTouchMs).toBeLessThan(2_000);
      expect(measured.startedMs).toBeLessThan(2_000);
    }
  });
});
