import { type Client, Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { SequenceService } from "@im-core/proto/sequence/v1";
import { type ConversationInit, conversationKey } from "./conversation.js";

/** An inclusive range of consecutive sequence numbers. */
export interface SequenceRange {
  readonly first: bigint;
  readonly last: bigint;
}

export interface BatchingSequenceOptions {
  /**
   * How long the first call of a batch waits for others to join it. 0: until the end of the current turn
   * of the event loop (`setImmediate`): every call made by the callbacks of one incoming answer still
   * joins. Default 1 ms.
   */
  windowMs?: number;
  /** Items per BatchNext, at most the service's 1,000. Default 1,000. */
  maxBatchItems?: number;
  /** Calls waiting to be sent; past it `next()` fails at once with RESOURCE_EXHAUSTED. Default 10,000. */
  maxQueued?: number;
  /** BatchNext calls in flight at once; beyond the first, only full batches are sent. Default 4. */
  maxInFlight?: number;
  /** Deadline of each BatchNext (and Next, when a failed batch is split). Default: none (server default). */
  timeoutMs?: number;
}

export interface NextOptions {
  /** Abandons the call: it fails with CANCELED; numbers already taken for it become a gap. */
  signal?: AbortSignal;
}

/** The service's own bounds (docs/api.md, "Request limits"). */
const MAX_COUNT = 10_000;
const MAX_ITEMS = 1_000;
const MAX_NUMBERS = 100_000;

/**
 * Codes that say nothing about one item: every item of a failed batch gets them. Any other failure of a
 * batch of several items (a new conversation over the token's rate, a range past 2^53, an unattributed
 * INVALID_ARGUMENT) may be one item's fault, so the batch is split into single Next calls and each caller
 * gets its own answer. Splitting is safe: a failed BatchNext leaves at most gaps.
 */
const WHOLE_CALL_CODES = new Set([
  Code.Unavailable,
  Code.DeadlineExceeded,
  Code.Canceled,
  Code.Unauthenticated,
  Code.PermissionDenied,
  Code.Internal,
  Code.Unknown,
  Code.Unimplemented,
]);

interface Pending {
  readonly key: string;
  readonly conversation: ConversationInit;
  readonly count: number;
  readonly resolve: (range: SequenceRange) => void;
  readonly reject: (error: unknown) => void;
  settled: boolean;
  unlisten?: () => void;
}

/**
 * Merges concurrent `next()` calls into BatchNext calls: a gateway sending one Next per message pays one
 * RPC per number, while one BatchNext answers up to 1,000 callers.
 *
 * Order: calls for the same conversation get increasing ranges in the order they were made, because a
 * conversation is never in two batches in flight at once (its later calls wait for the next batch) and
 * BatchNext answers a conversation named twice in request order.
 */
export class BatchingSequenceClient {
  readonly #client: Client<typeof SequenceService>;
  readonly #windowMs: number;
  readonly #maxItems: number;
  readonly #maxQueued: number;
  readonly #maxInFlight: number;
  readonly #timeoutMs: number | undefined;
  #queue: Pending[] = [];
  /** Conversations in a batch in flight: their queued calls wait, to keep their order. */
  readonly #busy = new Set<string>();
  #inFlight = 0;
  #timer: { cancel(): void } | undefined;
  #closed = false;
  #idle: (() => void) | undefined;
  #drained: Promise<void> | undefined;

  constructor(
    clientOrTransport: Client<typeof SequenceService> | Transport,
    options: BatchingSequenceOptions = {},
  ) {
    this.#client =
      "batchNext" in clientOrTransport ? clientOrTransport : createClient(SequenceService, clientOrTransport);
    this.#windowMs = options.windowMs ?? 1;
    this.#maxItems = Math.min(options.maxBatchItems ?? MAX_ITEMS, MAX_ITEMS);
    this.#maxQueued = options.maxQueued ?? 10_000;
    this.#maxInFlight = Math.max(1, options.maxInFlight ?? 4);
    this.#timeoutMs = options.timeoutMs;
  }

  /** `count` consecutive numbers (default 1, at most 10,000) of the conversation, through a shared BatchNext. */
  next(conversation: ConversationInit, count = 1, options: NextOptions = {}): Promise<SequenceRange> {
    if (this.#closed)
      return Promise.reject(new ConnectError("sequence client is closed", Code.FailedPrecondition));
    if (!Number.isInteger(count) || count < 0 || count > MAX_COUNT) {
      return Promise.reject(
        new ConnectError(`count: must be an integer from 0 to ${MAX_COUNT}`, Code.InvalidArgument),
      );
    }
    if (this.#queue.length >= this.#maxQueued) {
      return Promise.reject(
        new ConnectError(`${this.#queue.length} calls already queued`, Code.ResourceExhausted),
      );
    }
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(canceled(signal));
    return new Promise<SequenceRange>((resolve, reject) => {
      const item: Pending = {
        key: conversationKey(conversation),
        conversation,
        count: Math.max(1, count),
        resolve,
        reject,
        settled: false,
      };
      if (signal) {
        const onAbort = () => this.#settle(item, undefined, canceled(signal));
        signal.addEventListener("abort", onAbort, { once: true });
        item.unlisten = () => signal.removeEventListener("abort", onAbort);
      }
      this.#queue.push(item);
      this.#schedule();
    });
  }

  /** Calls waiting to be sent (not yet in a batch in flight). */
  get queued(): number {
    return this.#queue.length;
  }

  /** Refuses new calls, sends every queued one at once and resolves when all have been answered. */
  close(): Promise<void> {
    this.#closed = true;
    this.#flush();
    if (this.#queue.length === 0 && this.#inFlight === 0) return Promise.resolve();
    this.#drained ??= new Promise<void>((resolve) => {
      this.#idle = resolve;
    });
    return this.#drained;
  }

  /** Sends at once when a batch is full (or the client closing), else after the window, so others can join. */
  #schedule(): void {
    if (this.#queue.length >= this.#maxItems || this.#closed) this.#flush();
    else this.#timer ??= this.#afterWindow(() => this.#flush());
  }

  #afterWindow(run: () => void): { cancel(): void } {
    if (this.#windowMs === 0) {
      const immediate = setImmediate(run);
      return { cancel: () => clearImmediate(immediate) };
    }
    const timer = setTimeout(run, this.#windowMs);
    return { cancel: () => clearTimeout(timer) };
  }

  #flush(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#queue = this.#queue.filter((item) => !item.settled);
    while (this.#inFlight < this.#maxInFlight && this.#queue.length > 0) {
      // A second batch only when a full one is waiting (or on close): under a moderate load, the calls
      // made while one batch is out all join the next one, fewer and larger batches, which is where the
      // service's numbers/s come from (at 64 callers this measured 16,300–22,600 numbers/s,
      // sending partial batches early 12,700–21,700: see README).
      if (this.#inFlight > 0 && this.#queue.length < this.#maxItems && !this.#closed) break;
      const batch = this.#take();
      if (batch.length === 0) break; // every queued conversation is in flight: wait for an answer
      this.#inFlight += 1;
      for (const item of batch) this.#busy.add(item.key);
      void this.#send(batch).finally(() => {
        for (const item of batch) this.#busy.delete(item.key);
        this.#inFlight -= 1;
        this.#flush();
        if (this.#idle && this.#inFlight === 0 && this.#queue.length === 0) this.#idle();
      });
    }
  }

  /** The next batch: queued calls in order, skipping conversations in flight and any call behind a skipped one of its conversation. */
  #take(): Pending[] {
    const batch: Pending[] = [];
    const rest: Pending[] = [];
    const skipped = new Set<string>();
    let numbers = 0;
    for (const item of this.#queue) {
      const fits = batch.length < this.#maxItems && numbers + item.count <= MAX_NUMBERS;
      if (!fits || this.#busy.has(item.key) || skipped.has(item.key)) {
        skipped.add(item.key);
        rest.push(item);
        continue;
      }
      batch.push(item);
      numbers += item.count;
    }
    this.#queue = rest;
    return batch;
  }

  async #send(batch: Pending[]): Promise<void> {
    const callOptions = this.#timeoutMs === undefined ? {} : { timeoutMs: this.#timeoutMs };
    try {
      const { ranges } = await this.#client.batchNext(
        { items: batch.map((item) => ({ conversation: item.conversation, count: item.count })) },
        callOptions,
      );
      batch.forEach((item, i) => {
        const range = ranges[i];
        if (range) this.#settle(item, { first: range.first, last: range.last });
        else this.#settle(item, undefined, new ConnectError(`no range for item ${i}`, Code.Internal));
      });
    } catch (error) {
      const failure = ConnectError.from(error);
      if (batch.length === 1 || WHOLE_CALL_CODES.has(failure.code)) {
        for (const item of batch) this.#settle(item, undefined, failure);
        return;
      }
      await this.#sendOneByOne(batch, callOptions);
    }
  }

  /** After a batch failed for what may be one item: each call on its own, a conversation's calls in order. */
  async #sendOneByOne(batch: Pending[], callOptions: { timeoutMs?: number }): Promise<void> {
    const byKey = new Map<string, Pending[]>();
    for (const item of batch) byKey.set(item.key, [...(byKey.get(item.key) ?? []), item]);
    await Promise.all(
      [...byKey.values()].map(async (items) => {
        for (const item of items) {
          if (item.settled) continue;
          try {
            const r = await this.#client.next(
              { conversation: item.conversation, count: item.count },
              callOptions,
            );
            this.#settle(item, { first: r.first, last: r.last });
          } catch (error) {
            this.#settle(item, undefined, ConnectError.from(error));
          }
        }
      }),
    );
  }

  #settle(item: Pending, range: SequenceRange | undefined, error?: unknown): void {
    if (item.settled) return;
    item.settled = true;
    item.unlisten?.();
    if (range) item.resolve(range);
    else item.reject(error);
  }
}

function canceled(signal: AbortSignal): ConnectError {
  return new ConnectError("next() was aborted", Code.Canceled, undefined, undefined, signal.reason);
}
