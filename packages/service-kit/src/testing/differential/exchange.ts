import type http2 from "node:http2";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll } from "vitest";
import { type NormalizedAnswer, normalizeAnswer, normalizeLogLine } from "./normalize.js";
import { RawHttp2Client, sendHttp1, type WireAnswer, type WireRequest } from "./raw-client.js";
import {
  countDelta,
  leanCalls,
  type ServerPair,
  type ServiceName,
  type Side,
  sideEffectCounts,
  startServerPair,
} from "./server-pair.js";

/** Everything one server did for one request, normalized for comparison with the other server. */
export interface Observation {
  answer: NormalizedAnswer;
  /** rpc_calls_total, backend_errors_total and rpc_duration_seconds_count changes. */
  counts: Record<string, number>;
  /** The stand-in handlers' calls (method and directive): which ran, with which input. */
  handlerCalls: string[];
  logLines: Record<string, unknown>[];
}

export interface Exchange {
  reference: Observation;
  lean: Observation;
  /** Calls the lean path of the lean server served for this request (undefined: no such counter). */
  leanServed: number | undefined;
  /** The same on the reference server, which must never serve any. */
  referenceLeanServed: number | undefined;
  /** From sending to the stream's close, per server. */
  elapsedMs: { reference: number; lean: number };
}

type Transport = "h2" | "http1";

/** One raw HTTP/2 client per server of a pair (TLS when the pair has a certificate). */
export class PairClients {
  readonly reference: RawHttp2Client;
  readonly lean: RawHttp2Client;

  constructor(readonly pair: ServerPair) {
    this.reference = new RawHttp2Client(pair.reference.url, pair.ca);
    this.lean = new RawHttp2Client(pair.lean.url, pair.ca);
  }

  close(): void {
    this.reference.close();
    this.lean.close();
  }
}

/**
 * Lets the server finish what it does after the last byte went out (counting, logging). A stream that
 * was reset is closed on the server only once the RST_STREAM got there: that takes a little longer.
 */
async function settle(answer: WireAnswer): Promise<void> {
  if ((answer.rstCode ?? 0) !== 0 || answer.error !== undefined) await sleep(30);
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setImmediate(resolve));
}

async function observe(
  side: Side,
  client: RawHttp2Client,
  transport: Transport,
  request: WireRequest,
  options: SendOptions,
): Promise<{ observation: Observation; leanServed: number | undefined; elapsedMs: number }> {
  const counts = await sideEffectCounts(side);
  const leanBefore = await leanCalls(side);
  const calls = side.handlers.calls.length;
  const lines = side.logLines.length;
  const started = performance.now();
  const answer =
    transport === "h2"
      ? await client.send(request, options.onStream && ((stream) => options.onStream!(stream, side)))
      : await sendHttp1(side.url, request);
  const elapsedMs = performance.now() - started;
  await (options.settle ? options.settle(side) : settle(answer));
  const leanAfter = await leanCalls(side);
  const sentId = request.headers["x-request-id"];
  return {
    observation: {
      answer: normalizeAnswer(answer, sentId),
      counts: countDelta(counts, await sideEffectCounts(side)),
      handlerCalls: side.handlers.calls.slice(calls),
      logLines: side.logLines.slice(lines).map((line) => normalizeLogLine(line, sentId)),
    },
    leanServed: leanAfter === undefined ? undefined : leanAfter - (leanBefore ?? 0),
    elapsedMs,
  };
}

export interface SendOptions {
  /** Acts on the open HTTP/2 stream to `side` (reset it once its handler started, ...). */
  onStream?: (stream: http2.ClientHttp2Stream, side: Side) => void;
  /** Waits, after the stream closed, for what the server still does (default: two turns of the loop). */
  settle?: (side: Side) => Promise<void>;
}

/** Sends `request` to both servers of the pair at once and observes what each did. */
export async function exchangeBoth(
  clients: PairClients,
  request: WireRequest,
  transport: Transport = "h2",
  options: SendOptions = {},
): Promise<Exchange> {
  const { pair } = clients;
  const [reference, lean] = await Promise.all([
    observe(pair.reference, clients.reference, transport, request, options),
    observe(pair.lean, clients.lean, transport, request, options),
  ]);
  return {
    reference: reference.observation,
    lean: lean.observation,
    leanServed: lean.leanServed,
    referenceLeanServed: reference.leanServed,
    elapsedMs: { reference: reference.elapsedMs, lean: lean.elapsedMs },
  };
}

/**
 * Keeps each kind of logged failure (RPC and code) under the request log's cap of 10 lines a second per
 * kind: past it, which lines a server writes depends on when its window began, which differs between
 * two servers by a millisecond. Waits before a request while a kind had 8 lines in the last 1.1 s.
 */
export class LogPacer {
  readonly #times = new Map<string, number[]>();

  note(lines: readonly Record<string, unknown>[]): void {
    const now = performance.now();
    for (const line of lines) {
      if (line.msg !== "call failed") continue;
      const key = `${String(line.rpc)} ${String(line.code)}`;
      this.#times.set(key, [...(this.#times.get(key) ?? []), now]);
    }
  }

  async pace(): Promise<void> {
    const now = performance.now();
    let wait = 0;
    for (const [key, times] of this.#times) {
      const recent = times.filter((time) => now - time < 1_100);
      this.#times.set(key, recent);
      if (recent.length >= 8) wait = Math.max(wait, recent[0]! + 1_100 - now);
    }
    if (wait > 0) await sleep(wait);
  }
}

/** A server pair of `service` and its clients for one file's tests: started before them, closed after. */
export function pairForTests(
  service: ServiceName,
  options?: Parameters<typeof startServerPair>[1],
): { readonly pair: ServerPair; readonly clients: PairClients } {
  const setup = {} as { pair: ServerPair; clients: PairClients };
  beforeAll(async () => {
    setup.pair = await startServerPair(service, options);
    setup.clients = new PairClients(setup.pair);
  });
  afterAll(async () => {
    setup.clients?.close();
    await setup.pair?.close();
  });
  return setup;
}
