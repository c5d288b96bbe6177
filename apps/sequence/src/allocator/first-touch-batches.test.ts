import { test } from "@fast-check/vitest";
import { isStoreError } from "@im-core/common";
import type { SeedBatchStepHook } from "@im-core/stores/mysql";
import fc from "fast-check";
import { createConnection } from "mysql2/promise";
import { describe, expect } from "vitest";
import { privateBackends, testDeployment } from "../testing/backends.js";
import { type Call, checkGuarantees, newConversations } from "../testing/workload.js";

const servers = privateBackends();
let run = 0;

/**
 * What happens to the k-th batch of seeds (either instance), at one of its steps: its MySQL connection
 * killed from outside (its locks go with it), the step failing as a transaction would, or the epoch
 * bumped under it as a Redis server change would (a batch then commits rows nobody may be given: every
 * seed of it is fenced, goes round in the new epoch, and every counter is seeded again).
 */
const faultArb = fc.oneof(
  fc.constant(undefined),
  fc.record({
    kind: fc.constantFrom("kill" as const, "fail" as const, "bump" as const),
    step: fc.constantFrom("locked" as const, "reserving" as const, "committed" as const),
  }),
);

const callArb = fc.record({
  conversation: fc.nat(29),
  count: fc.integer({ min: 1, max: 3 }),
  instance: fc.nat(1),
  delayMs: fc.nat(4),
});

describe("first touches in batches, with faults injected into the batches", () => {
  test.prop(
    [
      fc.integer({ min: 1, max: 24 }), // rows per batch
      fc.integer({ min: 150, max: 4_000 }), // bytes per statement: from one row a batch on up
      fc.array(faultArb, { maxLength: 10, size: "max" }),
      fc.array(callArb, { minLength: 10, maxLength: 80, size: "max" }),
      fc.array(callArb, { minLength: 10, maxLength: 80, size: "max" }),
      fc.boolean(), // FLUSHALL between the two waves: every counter is seeded again, in batches
    ],
    { numRuns: 15, endOnFailure: true },
  )(
    "never give a number twice or below one handed out before, and commit every conversation before its numbers",
    async (rows, bytes, faults, wave1, wave2, flush) => {
      run += 1;
      const mysqlUrl = await servers.mariadb.createDatabase();
      const admin = await createConnection(mysqlUrl);
      let batches = 0;
      const onStep: SeedBatchStepHook = async (step, batch) => {
        if (step === "locked") batches += 1;
        const fault = faults[batches - 1];
        if (fault?.step !== step) return;
        if (fault.kind === "fail") throw new Error(`injected failure at ${step}`);
        if (fault.kind === "bump") {
          // As another instance seeing a new Redis identity would (the next epochFor bumps it back).
          await instances[0]!.backup.epochFor(`bumped-${run}-${batches}`);
          return;
        }
        await admin.query(`KILL ${batch.threadId}`);
      };
      const d = await testDeployment(mysqlUrl);
      const instances = await Promise.all([
        d.instance({ url: servers.redis.url }, { seedBatch: { rows, bytes, onStep } }),
        d.instance({ url: servers.redis.url }, { seedBatch: { rows, bytes, onStep } }),
      ]);
      const conversations = newConversations(`ftb${run}`, 30);
      const calls: Call[] = [];
      const wave = (plan: typeof wave1) =>
        Promise.all(
          plan.map(async ({ conversation: c, count, instance, delayMs }, caller) => {
            await new Promise((resolve) => setTimeout(resolve, delayMs));
            const conversation = conversations[c]!;
            for (let attempt = 1; ; attempt += 1) {
              const startedAt = performance.now();
              try {
                const range = await instances[instance]!.allocator.next(conversation, count);
                calls.push({ ...range, conversation, caller, startedAt, endedAt: performance.now() });
                return;
              } catch (error) {
                // An injected fault fails its batch UNAVAILABLE; the caller tries again, as clients do.
                if (!isStoreError(error) || error.kind !== "unavailable" || attempt === 20) throw error;
              }
            }
          }),
        );
      try {
        await wave(wave1);
        if (flush) await servers.redis.flushAll();
        await wave(wave2);
        checkGuarantees(calls);
        for (const call of calls) {
          // Committed (the reservation log is written when COMMIT has answered) before the call returned.
          expect(call.last).toBeLessThanOrEqual(d.log.ceilingAt(call.conversation.id, call.endedAt));
          expect(call.last).toBeLessThanOrEqual(await instances[0]!.backup.ceiling(call.conversation.id));
        }
        // Every batch let go of its slots (after the reservations ahead, which hold them too).
        for (const { allocator, backup } of instances) {
          await allocator.settle();
          expect(backup.lockSlots).toMatchObject({ inUse: 0, waiting: 0 });
        }
      } finally {
        await admin.end();
        await d.close();
      }
    },
  );
});
