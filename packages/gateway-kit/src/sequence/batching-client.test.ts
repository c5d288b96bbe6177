import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { fc, test as propTest } from "@fast-check/vitest";
import { SequenceService } from "@im-core/proto/sequence/v1";
import { describe, expect, it } from "vitest";
import { grpc, useSequenceService } from "../testing/services.js";
import { BatchingSequenceClient, type SequenceRange } from "./batching-client.js";
import { conversationKey, group, privateChat } from "./conversation.js";

const stack = useSequenceService();

/** The generated client, with every BatchNext's item count recorded. */
function countingClient() {
  const client = createClient(SequenceService, grpc(stack().service.url));
  const batches: number[] = [];
  const counted: typeof client = {
    ...client,
    batchNext: (request, options) => {
      batches.push(request.items?.length ?? 0);
      return client.batchNext(request, options);
    },
  };
  return { client: counted, batches };
}

let run = 0;

describe("BatchingSequenceClient against a real sequence service", () => {
  propTest.prop(
    [
      fc.array(
        fc.array(fc.record({ conv: fc.nat(3), count: fc.integer({ min: 1, max: 40 }) }), { maxLength: 8 }),
        {
          minLength: 1,
          maxLength: 24,
        },
      ),
      fc.boolean(),
      fc.integer({ min: 1, max: 4 }),
      fc.constantFrom(0, 1),
    ],
    { numRuns: 25 },
  )(
    "concurrent callers with random counts get disjoint ranges of the asked sizes, each caller's increasing per conversation",
    async (callers, pipelined, maxInFlight, windowMs) => {
      run += 1;
      const client = new BatchingSequenceClient(grpc(stack().service.url), {
        maxInFlight,
        maxBatchItems: 16,
        windowMs,
      });
      const conv = (n: number) =>
        n % 2 ? group(`prop-${run}-${n}`) : privateChat(`a-${run}-${n}`, `b-${run}`);
      // Sequential callers await each call; pipelined ones issue all at once and rely on the client's order.
      const results = await Promise.all(
        callers.map(async (calls) => {
          if (pipelined) return Promise.all(calls.map((c) => client.next(conv(c.conv), c.count)));
          const got: SequenceRange[] = [];
          for (const c of calls) got.push(await client.next(conv(c.conv), c.count));
          return got;
        }),
      );
      await client.close();

      const byConversation = new Map<string, SequenceRange[]>();
      callers.forEach((calls, i) => {
        const last = new Map<string, bigint>();
        calls.forEach((c, j) => {
          const range = results[i]![j]!;
          expect(range.last - range.first + 1n).toBe(BigInt(c.count));
          const key = conversationKey(conv(c.conv));
          expect(range.first).toBeGreaterThan(last.get(key) ?? 0n);
          last.set(key, range.last);
          byConversation.set(key, [...(byConversation.get(key) ?? []), range]);
        });
      });
      for (const ranges of byConversation.values()) {
        const sorted = [...ranges].sort((a, b) => (a.first < b.first ? -1 : 1));
        for (let k = 1; k < sorted.length; k += 1)
          expect(sorted[k]!.first).toBeGreaterThan(sorted[k - 1]!.last);
      }
    },
  );

  it("merges calls made within the window into one BatchNext, at most maxBatchItems each", async () => {
    const { client, batches } = countingClient();
    const batching = new BatchingSequenceClient(client, { windowMs: 20, maxBatchItems: 4 });
    await Promise.all(Array.from({ length: 10 }, (_, i) => batching.next(group(`merge-${i}`))));
    expect(batches.reduce((a, b) => a + b, 0)).toBe(10);
    expect(Math.max(...batches)).toBeLessThanOrEqual(4);
    expect(batches.length).toBeLessThanOrEqual(4);
  });

  it("with windowMs 0, merges the calls made in one turn of the event loop into one BatchNext", async () => {
    const { client, batches } = countingClient();
    const batching = new BatchingSequenceClient(client, { windowMs: 0 });
    await Promise.all(Array.from({ length: 50 }, (_, i) => batching.next(group(`turn-${i}`))));
    // The callbacks of one answer calling again, all in one turn: one more batch of all of them.
    const again = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        batching.next(group(`turn-${i}`)).then(() => batching.next(group(`turn-${i}`))),
      ),
    );
    expect(again).toHaveLength(50);
    expect(batches).toEqual([50, 50, 50]);
    await batching.close();
  });

  it("never puts a conversation in two batches in flight at once, so a later call cannot overtake an earlier one", async () => {
    // A fake service that answers slowly and records which conversations are in flight: the real one on
    // loopback answers too fast and in order to show an overtake.
    const inFlight = new Map<string, number>();
    let overlaps = 0;
    let next = 1n;
    const fake = {
      batchNext: async (request: {
        items: { conversation: Parameters<typeof conversationKey>[0]; count: number }[];
      }) => {
        const keys = request.items.map((item) => conversationKey(item.conversation));
        for (const key of new Set(keys)) {
          if (inFlight.get(key)) overlaps += 1;
          inFlight.set(key, 1);
        }
        await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 10));
        for (const key of keys) inFlight.set(key, 0);
        const ranges = request.items.map((item) => {
          const first = next;
          next += BigInt(item.count);
          return { first, last: next - 1n };
        });
        return { ranges };
      },
    } as unknown as ConstructorParameters<typeof BatchingSequenceClient>[0];
    const batching = new BatchingSequenceClient(fake, { maxInFlight: 4, maxBatchItems: 3, windowMs: 0 });
    await Promise.all(Array.from({ length: 60 }, (_, i) => batching.next(group(`hot-${i % 3}`))));
    expect(overlaps).toBe(0);
  });

  it("fails only the bad item of a batch and answers the others", async () => {
    const batching = new BatchingSequenceClient(grpc(stack().service.url), { windowMs: 20 });
    const [good, bad, alsoGood] = await Promise.allSettled([
      batching.next(group("per-item-1"), 3),
      batching.next(privateChat("same", "same")),
      batching.next(group("per-item-2")),
    ]);
    expect(good).toMatchObject({ status: "fulfilled", value: { first: 1n, last: 3n } });
    expect(alsoGood).toMatchObject({ status: "fulfilled", value: { first: 1n, last: 1n } });
    expect(bad.status).toBe("rejected");
    expect(ConnectError.from((bad as PromiseRejectedResult).reason).code).toBe(Code.InvalidArgument);
  });

  it("rejects an aborted call with CANCELED and leaves the rest of its batch alone", async () => {
    const batching = new BatchingSequenceClient(grpc(stack().service.url), { windowMs: 20 });
    const controller = new AbortController();
    const aborted = batching.next(group("abort-1"), 1, { signal: controller.signal });
    const kept = batching.next(group("abort-2"));
    controller.abort();
    await expect(aborted).rejects.toMatchObject({ code: Code.Canceled });
    await expect(kept).resolves.toMatchObject({ first: 1n });
    const already = AbortSignal.abort();
    await expect(batching.next(group("abort-3"), 1, { signal: already })).rejects.toMatchObject({
      code: Code.Canceled,
    });
  });

  it("refuses calls past maxQueued with RESOURCE_EXHAUSTED, and a bad count at once", async () => {
    const batching = new BatchingSequenceClient(grpc(stack().service.url), { windowMs: 50, maxQueued: 2 });
    const queued = [batching.next(group("bound-1")), batching.next(group("bound-2"))];
    await expect(batching.next(group("bound-3"))).rejects.toMatchObject({ code: Code.ResourceExhausted });
    await expect(batching.next(group("bound-4"), 10_001)).rejects.toMatchObject({
      code: Code.InvalidArgument,
    });
    await expect(Promise.all(queued)).resolves.toHaveLength(2);
  });

  it("close() answers every queued call, then refuses new ones with FAILED_PRECONDITION", async () => {
    const batching = new BatchingSequenceClient(grpc(stack().service.url), { windowMs: 1_000 });
    const pending = batching.next(group("close-1"), 2);
    await batching.close();
    await expect(pending).resolves.toMatchObject({ first: 1n, last: 2n });
    await expect(batching.next(group("close-2"))).rejects.toMatchObject({ code: Code.FailedPrecondition });
  });
});
