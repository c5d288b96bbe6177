import { StoreError } from "@im-core/common";
import {
  EpochFencedError,
  type LockedWork,
  type LockOptions,
  type MySqlSequenceBackup,
} from "@im-core/stores/mysql";
import type { RedisSequenceStore } from "@im-core/stores/redis";
import type { AllocatorEvents, SequenceRange } from "./allocator.js";
import type { Batch } from "./coalescer.js";
import type { ConversationRef } from "./conversation.js";
import type { EpochGuard } from "./epochs.js";

/** Numbers stay exact in JavaScript and in Redis Lua (doubles). */
export const MAX_SEQUENCE = Number.MAX_SAFE_INTEGER;

/** What a reservation round needs from its allocator. */
export interface ReservationDeps {
  readonly redis: RedisSequenceStore;
  readonly backup: MySqlSequenceBackup;
  readonly epochs: EpochGuard;
  /** Numbers reserved per MySQL write (SEQUENCE_STEP). */
  readonly step: number;
  /** Fewer numbers than this left reserved: reserve ahead. */
  readonly prefetchBelow: number;
  readonly events: AllocatorEvents;
  /** Reserves ahead for the conversation in the background (once at a time per conversation). */
  readonly prefetch: (conversation: ConversationRef) => void;
}

/**
 * The allocator's rounds under a conversation's MySQL lock: a reservation on the request path (a seed
 * or more room for waiting callers) and one ahead in the background. Kept apart from the allocator's
 * Redis fast path: this is where the safety argument of docs/architecture.md (2., 4., 8.) is carried
 * out.
 */
export class Reservations {
  readonly #d: ReservationDeps;

  constructor(deps: ReservationDeps) {
    this.#d = deps;
  }

  /**
   * Under the conversation's MySQL lock (held until Redis has the result): try again, since another
   * instance may have made room meanwhile (not for a seed: see below); otherwise commit a ceiling high
   * enough for every caller waiting, and apply it to Redis together with their allocation (`grant`), so
   * that no other instance can use up the new room first. Undefined: the epoch moved on, go round again.
   */
  async reserveFor(
    conversation: ConversationRef,
    batch: Batch,
    seed: boolean,
    gated: boolean,
  ): Promise<SequenceRange | undefined> {
    // A seed shares its MySQL round trips with the other seeds of the moment (lockedSeed); the
    // work is the same: it runs under the conversation's lock either way.
    const locked = <T>(work: LockedWork<T>, opts: LockOptions) =>
      seed
        ? this.#d.backup.lockedSeed(conversation, work, opts)
        : this.#d.backup.locked(conversation.id, work, opts);
    try {
      return await locked(
        async (reserve) => {
          // Whoever queued while we waited for the lock is served by this round too.
          batch.absorbQueued();
          const count = batch.total;
          const ticket = await this.#d.epochs.ticket();
          // Another instance may have made room meanwhile: a look first can spare a MySQL write. Not for
          // a seed, whose batch waits for every look: `grant` is as safe on a counter created meanwhile
          // as on a missing one (architecture, 8.), and such a race costs one spare reservation.
          if (!seed) {
            const reply = await this.#d.redis.next(ticket, conversation.key, count, this.#d.prefetchBelow);
            if (reply.status === "ok") {
              if (reply.prefetch) this.#d.prefetch(conversation);
              return { first: reply.first, last: reply.last };
            }
            if (reply.status === "behind") {
              await this.#d.epochs.catchUp(reply.epoch);
              return undefined;
            }
          }
          // Whole steps: one MySQL write covers every waiting caller, and keeps ~one write per step.
          const wanted = Math.ceil(count / this.#d.step) * this.#d.step;
          const reservation = await reserve(conversation, ticket.epoch, (previous) =>
            Math.min(previous + wanted, MAX_SEQUENCE),
          );
          const granted = await this.#d.redis.grant(
            ticket,
            conversation.key,
            reservation.previous,
            reservation.ceiling,
            count,
          );
          if (granted.status === "behind") {
            await this.#d.epochs.catchUp(granted.epoch);
            return undefined;
          }
          if (granted.status === "reserve") {
            // The counter is at most the old ceiling, and `wanted` ≥ count above it was committed:
            // only the 2^53 cap can leave it short.
            if (reservation.ceiling >= MAX_SEQUENCE) {
              throw new StoreError(
                "exhausted",
                "sequence numbers of this conversation would exceed 2^53 - 1",
              );
            }
            throw new StoreError(
              "failed_precondition",
              `Redis counter ${granted.cur} is above MySQL's ceiling ${reservation.previous}: are REDIS_URL and MYSQL_URL a pair?`,
            );
          }
          if (reservation.previous === 0) batch.chargeFirstTouch();
          this.#d.events.reservation?.(granted.seeded ? "seed" : "extend");
          if (reservation.ceiling - granted.last < this.#d.prefetchBelow) this.#d.prefetch(conversation);
          return { first: granted.first, last: granted.last };
        },
        // Waiting for a free MySQL connection ends when every caller of the batch gave up; tokens
        // take turns for it; a seed asks its callers' gates once its turn has come.
        {
          signal: batch.signal,
          seed,
          turn: batch.turn,
          ...(gated && batch.turn ? { admit: () => batch.admitFirstTouch() } : {}),
        },
      );
    } catch (error) {
      if (!(error instanceof EpochFencedError)) throw error;
      // A newer epoch exists: our counters may be stale copies. Adopt it and go round again.
      await this.#d.epochs.catchUp(error.current);
      return undefined;
    }
  }

  /**
   * In the background, before the block is used up: raise a live counter's ceiling by one step,
   * unless someone did meanwhile. A missing counter is left to the next request to seed.
   */
  async ahead(conversation: ConversationRef): Promise<void> {
    try {
      await this.#d.backup.locked(conversation.id, async (reserve) => {
        const ticket = await this.#d.epochs.ticket();
        const state = await this.#d.redis.peek(ticket, conversation.key);
        // Missing, stale or behind the server: the next request will seed or catch up.
        if (state === undefined || "status" in state || state.epoch !== ticket.epoch) return;
        if (state.max - state.cur >= this.#d.prefetchBelow) return;
        const reservation = await reserve(conversation, ticket.epoch, (previous) =>
          Math.min(previous + this.#d.step, MAX_SEQUENCE),
        );
        const applied = await this.#d.redis.extend(ticket, conversation.key, reservation.ceiling);
        if (applied.status === "ok") this.#d.events.reservation?.("ahead");
      });
    } catch (error) {
      if (!(error instanceof EpochFencedError)) throw error;
      await this.#d.epochs.catchUp(error.current);
    }
  }
}
