import { StoreError } from "@im-core/stores";
import { EpochFencedError, type MySqlSequenceBackup } from "@im-core/stores/mysql";
import type { RedisSequenceStore } from "@im-core/stores/redis";
import type { ConversationRef } from "./conversation.js";
import { EpochGuard } from "./epochs.js";
import { SingleFlight } from "./single-flight.js";

/** Numbers stay exact in JavaScript and in Redis Lua (doubles). */
export const MAX_SEQUENCE = Number.MAX_SAFE_INTEGER;

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
}

// Each retry follows a state change (seeded, extended, epoch caught up); more than a few in a row
// means Redis keeps losing the counter under us, and the caller is better off retrying later.
const MAX_ATTEMPTS = 6;

/**
 * Hands out per-conversation sequence numbers from Redis, never above a ceiling committed to MySQL
 * first. See DESIGN.md ("Sequence service") for the guarantees and apps/sequence/README.md for why they hold.
 */
export class SequenceAllocator {
  readonly #redis: RedisSequenceStore;
  readonly #backup: MySqlSequenceBackup;
  readonly #epochs: EpochGuard;
  readonly #step: number;
  readonly #prefetchBelow: number;
  readonly #onBackgroundError: (error: unknown) => void;
  readonly #reservations = new SingleFlight<void>();
  readonly #prefetches = new SingleFlight<void>();

  constructor(redis: RedisSequenceStore, backup: MySqlSequenceBackup, opts: AllocatorOptions) {
    this.#redis = redis;
    this.#backup = backup;
    this.#epochs = new EpochGuard(redis, backup);
    this.#step = opts.step;
    this.#prefetchBelow = Math.ceil(opts.step * (1 - (opts.prefetchAfter ?? 0.15)));
    this.#onBackgroundError = opts.onBackgroundError ?? (() => {});
  }

  /** `count` consecutive numbers, all above every number handed out before for `conversation`. */
  async next(conversation: ConversationRef, count: number): Promise<SequenceRange> {
    for (let attempt = 1; ; attempt += 1) {
      const ticket = await this.#epochs.ticket();
      const reply = await this.#redis.next(ticket, conversation.key, count, this.#prefetchBelow);
      if (reply.status === "ok") {
        if (reply.prefetch) this.#prefetch(conversation);
        return { first: reply.first, last: reply.last };
      }
      if (attempt === MAX_ATTEMPTS) {
        throw new StoreError(
          "unavailable",
          `no numbers after ${attempt} attempts: the counter keeps changing`,
        );
      }
      if (reply.status === "behind") await this.#epochs.catchUp(reply.epoch);
      else await this.#makeRoom(conversation, count);
    }
  }

  /** Many allocations; a conversation named twice gets consecutive ranges, in order. */
  async nextMany(
    items: readonly { conversation: ConversationRef; count: number }[],
  ): Promise<SequenceRange[]> {
    // One script call per distinct conversation, then split: keeps request order within each.
    const totals = new Map<string, { conversation: ConversationRef; count: number }>();
    for (const { conversation, count } of items) {
      const total = totals.get(conversation.key);
      if (total) total.count += count;
      else totals.set(conversation.key, { conversation, count });
    }
    const ranges = new Map(
      await Promise.all(
        [...totals].map(
          async ([key, total]) => [key, await this.next(total.conversation, total.count)] as const,
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
      if (state !== undefined && state.epoch === ticket.epoch) return state.cur;
      if (state === undefined || state.epoch < ticket.epoch || attempt === MAX_ATTEMPTS) {
        return this.#backup.ceiling(conversation.id);
      }
      await this.#epochs.catchUp(state.epoch);
    }
  }

  /** Waits for background reservations (tests, graceful shutdown). */
  async settle(): Promise<void> {
    await this.#prefetches.idle();
  }

  #makeRoom(conversation: ConversationRef, count: number): Promise<void> {
    // Callers whose count the shared run did not cover simply find the block used up again.
    return this.#reservations.run(conversation.key, () => this.#reserve(conversation, count, "request"));
  }

  #prefetch(conversation: ConversationRef): void {
    this.#prefetches
      .run(conversation.key, () => this.#reserve(conversation, this.#prefetchBelow, "prefetch"))
      .catch(this.#onBackgroundError);
  }

  /**
   * Under the conversation's MySQL lock (held until Redis has the result): re-read the counter,
   * since another instance may have done the work meanwhile; otherwise commit a higher ceiling,
   * then seed a missing counter at the old ceiling or raise a live one's limit.
   */
  async #reserve(conversation: ConversationRef, room: number, why: "request" | "prefetch"): Promise<void> {
    try {
      await this.#backup.locked(conversation.id, async (reserve) => {
        const ticket = await this.#epochs.ticket();
        const state = await this.#redis.peek(ticket, conversation.key);
        if (state !== undefined && state.epoch > ticket.epoch) return; // the caller catches up and retries
        const live = state !== undefined && state.epoch === ticket.epoch;
        if (live ? state.max - state.cur >= room : why === "prefetch") return;

        const wanted = Math.max(this.#step, room);
        const reservation = await reserve(conversation, ticket.epoch, (previous) =>
          Math.min(previous + wanted, MAX_SEQUENCE),
        );
        const from = live ? state.cur : reservation.previous;
        if (reservation.ceiling - from < room) {
          throw new StoreError("exhausted", `sequence numbers of this conversation would exceed 2^53 - 1`);
        }
        if (live) await this.#redis.extend(ticket, conversation.key, reservation.ceiling);
        else await this.#redis.seed(ticket, conversation.key, reservation.previous, reservation.ceiling);
      });
    } catch (error) {
      if (!(error instanceof EpochFencedError)) throw error;
      // A newer epoch exists: our counters may be stale copies. Adopt it; the caller retries.
      await this.#epochs.catchUp(error.current);
    }
  }
}
