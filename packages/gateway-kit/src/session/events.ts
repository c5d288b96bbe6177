import type { DeviceLocation } from "@im-core/proto/registry/v1";

/**
 * Why this gateway must close a device's connection:
 * - `evicted`: the device limit's `evict_oldest` removed it (from the `evicted` list of a Register);
 * - `rejected`: re-registering it after a lease loss hit the device limit with policy `reject`;
 * - `taken_over` (the device registered on another gateway) and `expired`: reported by a {@link DropFeed},
 *   the seam for the registry's Watch filter by gateway node, which this kit does not have yet.
 */
export type DropReason = "evicted" | "rejected" | "taken_over" | "expired";

export interface DropEvent {
  readonly userId: string;
  readonly deviceId: string;
  readonly reason: DropReason;
  /** The registry's entry that caused it, when there is one (the evicted entry, the newer location). */
  readonly location?: DeviceLocation;
}

export interface SessionEvents {
  /** A device this gateway holds is no longer registered here: close its connection. */
  drop: DropEvent;
  /** The lease is gone (Renew answered NOT_FOUND): a new one is being granted, every device re-registered. */
  leaseLost: { readonly leaseId: bigint };
  /** After a lease loss: every live device registered again on `leaseId`. */
  recovered: { readonly leaseId: bigint; readonly devices: number; readonly elapsedMs: number };
  /** A call that failed and will be retried (the registry unreachable, a renewal refused). */
  error: Error;
}

/**
 * Seam for the registry's Watch filter by gateway node (being added on another branch): a feed that calls
 * `report` for each device of this node that went elsewhere (`taken_over`) or expired, until `signal` aborts.
 */
export type DropFeed = (report: (event: DropEvent) => void, signal: AbortSignal) => void;

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
