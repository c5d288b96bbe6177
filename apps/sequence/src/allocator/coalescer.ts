import type { FirstTouchGate, SequenceRange } from "./allocator.js";

/** How a caller waits: its deadline or cancellation, and the gate its first touches pass. */
export interface WaitOptions {
  /** The caller stops waiting when it aborts (and is answered with its reason). */
  readonly signal?: AbortSignal | undefined;
  readonly firstTouch?: FirstTouchGate | undefined;
}

interface Waiter extends WaitOptions {
  readonly count: number;
  /** Stops following the caller's signal (it left the batch). */
  detach?: () => void;
  resolve(range: SequenceRange): void;
  reject(error: unknown): void;
}

interface Lane<T> {
  /** Callers waiting for the next run, in arrival order. */
  queue: Waiter[];
  /** What the key stands for (the first caller's: every caller of a key names the same thing). */
  subject: T;
}

/** The callers one allocation serves: their counts add up to `total`; ranges follow their order. */
export interface Batch {
  readonly total: number;
  readonly size: number;
  /**
   * Aborts once every caller of the batch has given up (deadline, cancellation); never while one
   * of them has no signal. Waits made for the batch (a free MySQL connection) end there.
   */
  readonly signal: AbortSignal;
  /**
   * Who the batch waits for MySQL as: the gate (one per token) of its first caller that has one, so
   * tokens take turns; undefined when no caller has a gate (nothing to admit or charge).
   */
  readonly turn: FirstTouchGate | undefined;
  /**
   * Takes in every caller queued behind this batch, so that a reservation made for the batch covers
   * them too (they arrived later, so they are served after the batch's earlier callers).
   */
  absorbQueued(): void;
  /**
   * The conversation's counter is about to be seeded: each caller's gate is asked, and the callers it
   * refuses leave the batch, answered with its error. Throws when nobody is left.
   */
  admitFirstTouch(): void;
  /** The seed created the conversation: each caller's gate is charged for it. */
  chargeFirstTouch(): void;
}

export interface CoalescerOptions<T> {
  /** Allocates `batch.total` consecutive numbers for `subject`. */
  allocate: (subject: T, batch: Batch) => Promise<SequenceRange>;
  /** A batch failing with this error is retried caller by caller (e.g. only some of them fit). */
  splitOn?: (error: unknown) => boolean;
  /** Called with the number of callers that shared another caller's allocation. */
  onCoalesced?: (calls: number) => void;
}

class Run implements Batch {
  total = 0;
  readonly #abort = new AbortController();
  /** Callers still waiting (or without a signal, so never giving up). */
  #live = 0;

  constructor(
    readonly waiters: Waiter[],
    /** The lane's queue, when this run may take in its callers. */
    readonly queue: Waiter[] | undefined,
  ) {
    for (const waiter of waiters) this.#add(waiter);
  }

  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  get turn(): FirstTouchGate | undefined {
    for (const waiter of this.waiters) if (waiter.firstTouch) return waiter.firstTouch;
    return undefined;
  }

  #add(waiter: Waiter): void {
    this.total += waiter.count;
    this.#live += 1;
    const { signal } = waiter;
    if (!signal) return;
    const gone = () => {
      this.#live -= 1;
      if (this.#live === 0) this.#abort.abort(signal.reason);
    };
    if (signal.aborted) gone();
    else {
      signal.addEventListener("abort", gone, { once: true });
      waiter.detach = () => signal.removeEventListener("abort", gone);
    }
  }

  admitFirstTouch(): void {
    let refusal: unknown;
    const admitted = this.waiters.filter((waiter) => {
      // A caller that gave up is already answered: it leaves without being asked (or charged).
      if (waiter.signal?.aborted) {
        refusal ??= waiter.signal.reason;
        waiter.detach?.();
        this.total -= waiter.count;
        return false;
      }
      const refused = waiter.firstTouch?.admit();
      if (refused === undefined) return true;
      refusal = refused;
      this.total -= waiter.count;
      this.#live -= 1;
      waiter.detach?.();
      waiter.reject(refused);
      return false;
    });
    // In place: the coalescer splits the range over this same list.
    this.waiters.splice(0, this.waiters.length, ...admitted);
    // Nobody left to serve: no MySQL work is done for nobody.
    if (admitted.length === 0) throw refusal;
  }

  chargeFirstTouch(): void {
    // One conversation was created: each caller's token pays for it once, however many calls it made.
    const gates = new Set<FirstTouchGate>();
    for (const waiter of this.waiters) if (waiter.firstTouch) gates.add(waiter.firstTouch);
    for (const gate of gates) gate.charge();
  }

  get size(): number {
    return this.waiters.length;
  }

  absorbQueued(): void {
    if (!this.queue) return;
    for (const waiter of this.queue.splice(0)) {
      this.waiters.push(waiter);
      this.#add(waiter);
    }
  }
}

/**
 * At most one allocation per key in flight: callers arriving meanwhile queue, and the next
 * allocation serves all of them at once (one Redis script call for `sum(count)`), its range split
 * among them in arrival order. A caller therefore never spins against the others on its key: it
 * waits for at most the run ahead of it, then is served by its own batch's run.
 *
 * Order is kept: within a batch, earlier arrivals get lower numbers; a later batch starts after
 * the earlier one returned, so it gets higher numbers (the script only ever moves forward).
 *
 * A caller whose signal aborts is answered at once with its reason. If it was still queued it
 * leaves the queue; if its batch is already running, its share of the range is simply never
 * handed out (a gap, never a repeat).
 */
export class Coalescer<T> {
  readonly #lanes = new Map<string, Lane<T>>();
  readonly #opts: CoalescerOptions<T>;

  constructor(opts: CoalescerOptions<T>) {
    this.#opts = opts;
  }

  /** `count` consecutive numbers for `subject`, whose identity is `key`. */
  next(key: string, subject: T, count: number, opts: WaitOptions = {}): Promise<SequenceRange> {
    if (opts.signal?.aborted) return Promise.reject(opts.signal.reason);
    const lane = this.#lanes.get(key);
    if (lane) {
      return new Promise((resolve, reject) =>
        lane.queue.push(waiter(count, resolve, reject, opts, lane.queue)),
      );
    }
    // Idle key: this caller runs at once. Callers arriving meanwhile queue behind it.
    const fresh: Lane<T> = { queue: [], subject };
    this.#lanes.set(key, fresh);
    return new Promise((resolve, reject) => {
      this.#serve(fresh, [waiter(count, resolve, reject, opts, fresh.queue)], true).then(() => {
        if (fresh.queue.length === 0) this.#lanes.delete(key);
        else void this.#drain(key, fresh);
      });
    });
  }

  /** Serves what queued during the previous run, batch after batch, then forgets the key. */
  async #drain(key: string, lane: Lane<T>): Promise<void> {
    while (lane.queue.length > 0) {
      await this.#serve(lane, lane.queue.splice(0), true);
    }
    this.#lanes.delete(key);
  }

  async #serve(lane: Lane<T>, waiters: Waiter[], mayAbsorb: boolean): Promise<void> {
    const batch = new Run(waiters, mayAbsorb ? lane.queue : undefined);
    let range: SequenceRange;
    try {
      range = await this.#opts.allocate(lane.subject, batch);
    } catch (error) {
      if (waiters.length > 1 && this.#opts.splitOn?.(error)) {
        // One by one, in order; nobody may jump in between (the queue waits for the next batch).
        for (const waiter of waiters) await this.#serve(lane, [waiter], false);
      } else {
        for (const waiter of waiters) waiter.reject(error);
      }
      return;
    }
    if (waiters.length > 1) this.#opts.onCoalesced?.(waiters.length - 1);
    let first = range.first;
    for (const waiter of waiters) {
      waiter.resolve({ first, last: first + waiter.count - 1 });
      first += waiter.count;
    }
  }
}

/** A caller that gives up when `signal` aborts: it leaves `queue` if still there, and is rejected. */
function waiter(
  count: number,
  resolve: (range: SequenceRange) => void,
  reject: (error: unknown) => void,
  { signal, firstTouch }: WaitOptions,
  queue: Waiter[],
): Waiter {
  if (!signal) return { count, firstTouch, resolve, reject };
  const onAbort = () => {
    const i = queue.indexOf(self);
    if (i >= 0) queue.splice(i, 1);
    reject(signal.reason);
  };
  const self: Waiter = {
    count,
    signal,
    firstTouch,
    resolve: (range) => {
      signal.removeEventListener("abort", onAbort);
      resolve(range);
    },
    reject: (error) => {
      signal.removeEventListener("abort", onAbort);
      reject(error);
    },
  };
  signal.addEventListener("abort", onAbort, { once: true });
  return self;
}
