import { StoreError } from "@im-core/common";
import type { ChangeBatch, ChangeEvent } from "../devices.js";

export interface SubscriptionOptions {
  /** Only events of these users; undefined means every user. */
  users?: ReadonlySet<string> | undefined;
  /**
   * Only events of entries on these gateway nodes, or that were on one just before (a put that took the
   * device over from it); undefined means every node.
   */
  gateways?: ReadonlySet<string> | undefined;
  /** Events before this revision are dropped (a resume point inside a batch). */
  fromRevision?: number;
  /** Most undelivered events before the subscriber is cut off. */
  maxBacklog: number;
  /** Called once when the subscription ends, however it ends (closed, failed or cut off). */
  onClose?: () => void;
  /** Called once if the reader is cut off for falling more than `maxBacklog` events behind. */
  onOverflow?: () => void;
}

/**
 * One reader's view of a change feed: a bounded queue drained as an async iterable. A reader that falls
 * more than `maxBacklog` events behind is ended with `exhausted` (it resumes from its last revision)
 * rather than slowing the feed for everyone or holding unbounded memory.
 */
export class Subscription implements AsyncIterable<ChangeBatch> {
  private readonly queue: ChangeBatch[] = [];
  private backlog = 0;
  private failure: Error | undefined;
  private ended = false;
  private released = false;
  private wake: (() => void) | undefined;

  constructor(private readonly options: SubscriptionOptions) {}

  /** Undelivered events: what this subscription holds in memory (0 once it has failed). */
  get pending(): number {
    return this.backlog;
  }

  /** Whether it has failed or closed: it will accept nothing more. */
  get done(): boolean {
    return this.ended || this.failure !== undefined;
  }

  push(batch: ChangeBatch): void {
    if (this.ended || this.failure) return;
    const { users, gateways, fromRevision = 0 } = this.options;
    const keep = (e: ChangeEvent) =>
      e.revision >= fromRevision &&
      (!users || users.has(e.entry.userId)) &&
      (!gateways ||
        gateways.has(e.entry.gatewayNode) ||
        (e.previous !== undefined && gateways.has(e.previous.gatewayNode)));
    const events = batch.events.every(keep) ? batch.events : batch.events.filter(keep);
    if (events.length === 0) return;
    this.backlog += events.length;
    if (this.backlog > this.options.maxBacklog) {
      this.options.onOverflow?.();
      this.fail(
        new StoreError(
          "exhausted",
          "watch stream fell too far behind; resume from the last revision received",
        ),
      );
      return;
    }
    this.queue.push({ revision: batch.revision, events });
    this.signal();
  }

  /**
   * Ends the stream with `error` at once, dropping what is queued: the reader resumes from the last
   * revision it received, and a reader cut off for being slow must not first drain its backlog. The
   * feed lets go of it now (`onClose`), not when the reader next pulls: a reader whose transport is
   * blocked (a client that stopped reading) may not pull for a long time.
   */
  fail(error: Error): void {
    if (this.ended || this.failure) return;
    this.failure = error;
    this.queue.length = 0;
    this.backlog = 0;
    this.signal();
    this.release();
  }

  close(): void {
    if (this.ended) return;
    this.ended = true;
    this.queue.length = 0;
    this.backlog = 0;
    this.signal();
    this.release();
  }

  private release(): void {
    if (this.released) return;
    this.released = true;
    this.options.onClose?.();
  }

  private signal(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<ChangeBatch> {
    try {
      for (;;) {
        const batch = this.queue.shift();
        if (batch) {
          this.backlog -= batch.events.length;
          yield batch;
          continue;
        }
        if (this.failure) throw this.failure;
        if (this.ended) return;
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
      }
    } finally {
      this.close();
    }
  }
}
