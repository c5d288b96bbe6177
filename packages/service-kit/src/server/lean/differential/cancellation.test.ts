import http2 from "node:http2";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { exchangeBoth, pairForTests } from "../../../testing/differential/exchange.js";
import { callOf } from "../../../testing/differential/fixed-requests.js";
import { LEAN_CONTENT_TYPES } from "../../../testing/differential/request-spec.js";
import { type Side, TOKENS } from "../../../testing/differential/server-pair.js";

const setup = pairForTests("registry");

/** Resolves once `side`'s handlers have seen one more call than now. */
async function handlerStarted(side: Side, before: number): Promise<void> {
  while (side.handlers.calls.length <= before) await sleep(2);
}

describe("a client that resets its stream mid-call", () => {
  it.each(LEAN_CONTENT_TYPES)(
    "(%s) aborts the handler's signal on both paths, and both count and log the call alike",
    async (contentType) => {
      const request = callOf("registry", "Lookup", "slow-5000", { contentType });
      const started = new Map<Side, number>([
        [setup.pair.reference, setup.pair.reference.handlers.calls.length],
        [setup.pair.lean, setup.pair.lean.handlers.calls.length],
      ]);
      const aborted = new Map<Side, number>([
        [setup.pair.reference, setup.pair.reference.handlers.aborted.length],
        [setup.pair.lean, setup.pair.lean.handlers.aborted.length],
      ]);
      const exchange = await exchangeBoth(setup.clients, request, "h2", {
        onStream: (stream, side) => {
          handlerStarted(side, started.get(side)!).then(() => stream.close(http2.constants.NGHTTP2_CANCEL));
        },
        // The abort reaches the handler after the reset; counting and logging follow it.
        settle: async (side) => {
          const deadline = performance.now() + 2_000;
          while (side.handlers.aborted.length === aborted.get(side)! && performance.now() < deadline)
            await sleep(5);
          await sleep(20);
        },
      });
      for (const side of [setup.pair.reference, setup.pair.lean]) {
        expect(side.handlers.aborted.slice(aborted.get(side)!)).toEqual(["Lookup slow-5000"]);
      }
      expect(exchange.reference.answer.rstCode).toBe(http2.constants.NGHTTP2_CANCEL);
      expect(exchange.lean).toEqual(exchange.reference);
    },
  );
});

describe("a refused call whose client is still sending a large body", () => {
  it.each(LEAN_CONTENT_TYPES)(
    "(%s) is answered at once without its body being read, its stream closed the same way on both paths",
    async (contentType) => {
      const request = {
        ...callOf("registry", "Lookup", "ok-a", {
          contentType,
          token: TOKENS.router.replace("router", "rooter"),
        }),
        // Far more than the stream's flow-control window: the rest can only go once the server reads.
        body: Buffer.alloc(1024 * 1024, 0x41),
        keepOpen: true,
      };
      const exchange = await exchangeBoth(setup.clients, request);
      expect(exchange.reference.answer.status).toBe(contentType.startsWith("application/grpc") ? 200 : 401);
      expect(exchange.reference.handlerCalls).toEqual([]);
      // The body never ended: only closing the stream let the client see its end.
      expect(exchange.elapsedMs.reference).toBeLessThan(2_000);
      expect(exchange.elapsedMs.lean).toBeLessThan(2_000);
      expect(exchange.lean).toEqual(exchange.reference);
      // The session outlives the closed stream: the next call on it is served.
      const next = await exchangeBoth(setup.clients, callOf("registry", "Lookup", "ok-a", { contentType }));
      expect(next.reference.answer.status).toBe(200);
      expect(next.lean).toEqual(next.reference);
    },
  );
});
