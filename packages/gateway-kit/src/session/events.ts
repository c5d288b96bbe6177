import type { DeviceLocation } from "@im-core/proto/registry/v1";

/**
 * Why this gateway must close a device's connection:
 * - `evicted`: the device limit's `evict_oldest` removed it to make room for another device of the user
 *   (registered here or on another gateway);
 * - `taken_over`: the device registered on another gateway node;
 * - `unregistered`: someone else (an operator, an admin tool) unregistered it;
 * - `rejected`: re-registering it after a lease loss hit the device limit with policy `reject`;
 * - `gone`: no longer registered, found when every device was checked again after a gap in the feed (the
 *   registry's history was compacted while the Watch was disconnected), so why is not known.
 * A lost lease is not a drop: the session registers its devices again on a new one.
 */
export type DropReason = "evicted" | "taken_over" | "unregistered" | "rejected" | "gone";

export interface DropEvent {
  readonly userId: string;
  readonly deviceId: string;
  readonly reason: DropReason;
  /** The registry's entry that caused it, when there is one (the evicted entry, the newer location). */
  readonly location?: DeviceLocation;
  /** The registry revision of the change, when a Watch reported it. */
  readonly revision?: bigint;
}

export interface SessionEvents {
  /** A device this gateway holds is no longer registered here: close its connection. */
  drop: DropEvent;
  /** The lease is gone (Renew answered NOT_FOUND): a new one is being granted, every device re-registered. */
  leaseLost: { readonly leaseId: bigint };
  /** After a lease loss: every live device registered again on `leaseId`. */
  recovered: { readonly leaseId: bigint; readonly devices: number; readonly elapsedMs: number };
  /** A call that failed and will be retried (the registry unreachable, a renewal refused, a Watch broken). */
  error: Error;
}

/** Where a {@link DropFeed} sends what it learns. */
export interface DropSink {
  /** A change that may have taken a device of this gateway away. */
  report(event: DropEvent): void;
  /**
   * The feed may have missed changes (a gap in its history) and follows again from `revision`: every
   * held device is checked again, against an answer at least that recent.
   */
  resync(revision: bigint): void;
}

/**
 * A source of changes that may take this gateway's devices away, such as the registry's Watch filtered by
 * gateway node ({@link watchOwnDrops}, the default): it tells `sink` until `signal` aborts, and resolves
 * once it follows changes (or has tried once), so that none made after `open()` is missed. The session
 * checks each report against the registry before it drops the device: a stale report (the device came
 * back since) drops nothing.
 */
export type DropFeed = (sink: DropSink, signal: AbortSignal) => Promise<void> | void;

type Listener<T> = (value: T) => void;

/** A small typed emitter, without node:events so the kit's types stay plain. */
export class Emitter<E> {
  readonly #listeners = new Map<keyof E, Set<Listener<never>>>();

  on<K extends keyof E>(event: K, listener: Listener<E[K]>): () => void {
    const set = this.#listeners.get(event) ?? new Set();
    set.add(listener as Listener<never>);
    this.#listeners.set(event, set);
    return () => set.delete(listener as Listener<never>);
  }

  emit<K extends keyof E>(event: K, value: E[K]): void {
    for (const listener of this.#listeners.get(event) ?? []) {
      try {
        (listener as Listener<E[K]>)(value);
      } catch (error) {
        // An uncaught exception, as from a throwing EventEmitter listener, but only after the session's own
        // bookkeeping (and the other listeners) ran: a listener's bug must not leave the session half-updated.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}
