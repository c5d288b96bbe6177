import type { ChangeBatch } from "../devices.js";
import { Subscription, type SubscriptionOptions } from "./subscription.js";

/** The subscribers of one feed: each gets every batch, in its own bounded queue. */
export class FanOut {
  readonly #subscribers = new Set<Subscription>();

  get size(): number {
    return this.#subscribers.size;
  }

  /** Undelivered events held for all subscribers together. */
  get queuedEvents(): number {
    let queued = 0;
    for (const subscriber of this.#subscribers) queued += subscriber.pending;
    return queued;
  }

  /** A new subscriber, first given `backlog` (the batches it missed), then every pushed batch. */
  add(options: Omit<SubscriptionOptions, "onClose">, backlog: readonly ChangeBatch[]): Subscription {
    const subscription: Subscription = new Subscription({
      ...options,
      onClose: () => this.#subscribers.delete(subscription),
    });
    for (const batch of backlog) subscription.push(batch);
    this.#subscribers.add(subscription);
    return subscription;
  }

  push(batch: ChangeBatch): void {
    // A subscriber cut off during push leaves the set at once; deleting while iterating a Set is safe.
    for (const subscriber of this.#subscribers) subscriber.push(batch);
  }

  /** Ends every subscriber with `error`: each resumes from the last revision it received. */
  endAll(error: Error): void {
    for (const subscriber of [...this.#subscribers]) subscriber.fail(error);
    this.#subscribers.clear();
  }
}
