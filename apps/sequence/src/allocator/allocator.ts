import { setMaxListeners } from "node:events";
import { StoreError } from "@im-core/common";
import type { MySqlSequenceBackup } from "@im-core/stores/mysql";
import type { RedisSequenceStore } from "@im-core/stores/redis";
import { type Batch, Coalescer } from "./coalescer.js";
import type { ConversationRef } from "./conversation.js";
import { EpochGuard } from "./epochs.js";
import { Reservations } from "./reservations.js";
import { SingleFlight } from "./single-flight.js";

export { MAX_SEQUENCE } from "./reservations.js";

/** An inclusive range of consecutive numbers. */
export interface SequenceRange {
  readonly first: number;
  readonly last: number;
}

export interface AllocatorOptions {
  /** Numbers reserved per MySQL write (SEQUENCE_STEP). */
  step: number;
  /** Share of a block used before the next one is reserved in the background. Default 0.15. */
  prefetchAfter?: number;
  /** Background reservations fail silently for the caller; report them here. */
  onBackgroundError?: (error: unknown) => void;
  /** What happened, for metrics. */
  events?: AllocatorEvents;
}

export interface AllocatorEvents {
  /**
   * A reservation reached Redis: `seed` created a missing or stale counter from MySQL, `extend`
   * made room for callers waiting on a used-up block, `ahead` made room in the background.
   */
  reservation?(reason: "seed" | "extend" | "ahead"): void;
  /** `calls` Next calls were answered by a script call made together with another one. */
  coalesced?(calls: number): void;
  /** The Redis server(s) changed (restart, failover): the epoch was looked up again. */
  serverChange?(): void;
}

export interface CallOptions {
  /**
   * The call's deadline or cancellation (Connect's HandlerContext.signal): the caller stops
   * waiting (for its batch, for a free MySQL connection) and the call fails with its reason.
   */
  signal?: AbortSignal;
  /** Asked before this call seeds a conversation's counter (the caller's per-token limit). */
  firstTouch?: FirstTouchGate;
}

/**
 * A caller's limit on new conversations: each costs a MySQL lock round, and a caller can name as many
 * as it likes. Only conversations MySQL never saw count: re-seeding counters lost with Redis does not.
 */
export interface FirstTouchGate {
  /** Asked when a seed's turn for MySQL has come: undefined to go ahead, or the caller's refusal. */
  admit(): Error | undefined;
  /** The seed created a conversation. */
  charge(): void;
}

// A call only goes round again when the epoch moved under it (the Redis server changed mid-call).
// More than a few in a row means Redis keeps changing under us: the caller had better retry later.
const MAX_ATTEMPTS = 6;

/**
 * Hands out per-conversation sequence numbers from Redis, never above a ceiling committed to MySQL
 * first. docs/architecture.md ("Sequence") states the guarantees and argues why they hold.
 */
export class SequenceAllocator {
  readonly #redis: RedisSequenceStore;
  readonly #backup: MySqlSequenceBackup;
  readonly #epochs: EpochGuard;
  readonly #step: number;
  readonly #prefetchBelow: number;
  readonly #onBackgroundError: (error: unknown) => void;
  readonly #events: AllocatorEvents;
  readonly #lanes: Coalescer<ConversationRef>;
  readonly #prefetches = new SingleFlight<void>();
  readonly #reservations: Reservations;

  constructor(redis: RedisSequenceStore, backup: MySqlSequenceBackup, opts: AllocatorOptions) {
    this.#redis = redis;
    this.#backup = backup;
    this.#events = opts.events ?? {};
    this.#epochs = new EpochGuard(redis, backup, () => this.#events.serverChange?.());
    this.#step = opts.step;
    this.#prefetchBelow = Math.ceil(opts.step * (1 - (opts.prefetchAfter ?? 0.15)));
    this.#onBackgroundError = opts.onBackgroundError ?? (() => {});
    this.#reservations = new Reservations({
      redis,
      backup,
      epochs: this.#epochs,
      step: this.#step,
      prefetchBelow: this.#prefetchBelow,
      events: this.#events,
      prefetch: (conversation) => this.#prefetch(conversation),
    });
    this.#lanes = new Coalescer({
      allocate: (conversation, batch) => this.#allocate(conversation, batch),
      // Near 2^53 a batch may not fit where its first callers would: serve them one by one.
      splitOn: (error) => error instanceof StoreError && error.kind === "exhausted",
      onCoalesced: (calls) => this.#events.coalesced?.(calls),
    });
  }

  /** The epoch this instance allocates in (0 before it first talked to Redis). */
  get epoch(): number {
    return this.#epochs.epoch;
  }

  /**
   * `count` consecutive numbers, all above every number handed out before for `conversation`.
   * Concurrent calls for one conversation share one script call (see Coalescer).
   */
  next(conversation: ConversationRef, count: number, opts: CallOptions = {}): Promise<SequenceRange> {
    return this.#lanes.next(conversation.key, conversation, count, opts);
  }

  /** Many allocations; a conversation named twice gets consecutive ranges, in order. */
  async nextMany(
    items: readonly { conversation: ConversationRef; count: number }[],
    opts: CallOptions = {},
  ): Promise<SequenceRange[]> {
    // One listener per distinct conversation on the call's signal: a child signal without Node's
    // listener limit (a BatchNext may name 1,000 conversations).
    const signal = opts.signal && unlimited(opts.signal);
    const { firstTouch } = opts;
    // One allocation per distinct conversation, then split: keeps request order within each.
    const totals = new Map<string, { conversation: ConversationRef; count: number }>();
    for (const { conversation, count } of items) {
      const total = totals.get(conversation.key);
      if (total) total.count += count;
      else totals.set(conversation.key, { conversation, count });
    }
    const ranges = new Map(
      await Promise.all(
        [...totals].map(
          async ([key, total]) =>
            [key, await this.next(total.conversation, total.count, { signal, firstTouch })] as const,
        ),
      ),
    );
    return items.map(({ conversation, count }) => {
      const range = ranges.get(conversation.key)!;
      ranges.set(conversation.key, { first: range.first + count, last: range.last });
      return { first: range.first, last: range.first + count - 1 };
    });
  }

  /**
   * The highest number handed out. After Redis lost the counter that is unknown, so this answers
   * the reserved ceiling instead: no number above it was handed out, the next one will be above it.
   */
  async current(conversation: ConversationRef): Promise<number> {
    for (let attempt = 1; ; attempt += 1) {
      const ticket = await this.#epochs.ticket();
      const state = await this.#redis.peek(ticket, conversation.key);
      if (state === undefined) return this.#backup.ceiling(conversation.id);
      if (!("status" in state)) {
        // A counter of an older epoch may be a stale copy: only the ceiling is known to be safe.
        return state.epoch === ticket.epoch ? state.cur : this.#backup.ceiling(conversation.id);
      }
      // The server changed, or holds a newer epoch: look again in the right one.
      if (attempt === MAX_ATTEMPTS) return this.#backup.ceiling(conversation.id);
      await this.#epochs.catchUp(state.epoch);
    }
  }

  /** Waits for background reservations (tests, graceful shutdown). */
  async settle(): Promise<void> {
    await this.#prefetches.idle();
  }

  /**
   * One script call for the whole batch; if the block is used up (or the counter missing), one
   * reservation sized for everyone waiting, which hands the batch its numbers as it is applied.
   */
  async #allocate(conversation: ConversationRef, batch: Batch): Promise<SequenceRange> {
    for (let attempt = 1; ; attempt += 1) {
      if (attempt > MAX_ATTEMPTS) {
        throw new StoreError(
          "unavailable",
          `no numbers after ${MAX_ATTEMPTS} attempts: the Redis server keeps changing (epoch ${this.epoch})`,
        );
      }
      const ticket = await this.#epochs.ticket();
      const reply = await this.#redis.next(ticket, conversation.key, batch.total, this.#prefetchBelow);
      if (reply.status === "ok") {
        if (reply.prefetch) this.#prefetch(conversation);
        return { first: reply.first, last: reply.last };
      }
      if (reply.status === "behind") {
        await this.#epochs.catchUp(reply.epoch);
        continue;
      }
      // A counter left from an older epoch belongs to a conversation started before: its callers' gates
      // are not asked (they limit new conversations, not re-seeds after a Redis change).
      const seed = reply.status === "seed";
      const range = await this.#reservations.reserveFor(conversation, batch, seed, seed && !reply.known);
      if (range) return range;
    }
  }

  #prefetch(conversation: ConversationRef): void {
    this.#prefetches
      .run(conversation.key, () => this.#reservations.ahead(conversation))
      .catch(this.#onBackgroundError);
  }
}

/** A signal following `parent` that may have any number of listeners. */
function unlimited(parent: AbortSignal): AbortSignal {
  const child = new AbortController();
  setMaxListeners(0, child.signal);
  if (parent.aborted) child.abort(parent.reason);
  else parent.addEventListener("abort", () => child.abort(parent.reason), { once: true });
  return child.signal;
}
