import type { ChangeBatch } from "../devices.js";

/**
 * The most recent change batches, at most `limit` events (always the last batch): a subscriber that
 * resumes from a revision inside them is served from memory instead of from the source.
 */
export class History {
  #batches: ChangeBatch[] = [];
  #events = 0;
  /** Every event at or after this revision is held. */
  #from = Number.POSITIVE_INFINITY;

  constructor(private readonly limit: number) {}

  /** Forgets everything: the next batch follows `revision`. */
  reset(revision: number): void {
    this.#batches = [];
    this.#events = 0;
    this.#from = revision + 1;
  }

  push(batch: ChangeBatch): void {
    this.#batches.push(batch);
    this.#events += batch.events.length;
    while (this.#events > this.limit && this.#batches.length > 1) {
      const dropped = this.#batches.shift()!;
      this.#events -= dropped.events.length;
      this.#from = dropped.revision + 1;
    }
  }

  /** Whether every event from `revision` on is held (or none happened yet). */
  covers(revision: number): boolean {
    return revision >= this.#from;
  }

  /** The held batches that end at or after `revision`. */
  since(revision: number): ChangeBatch[] {
    return this.#batches.filter((batch) => batch.revision >= revision);
  }
}
