import { StoreError } from "../../../errors.js";
import type { ChangeBatch, DeviceEntry, MirrorSource, Snapshot, WatchHandle } from "../types.js";
import { Subscription } from "./subscription.js";

export interface MirrorOptions {
  /** Most undelivered events per subscriber before it is cut off with `exhausted`. Default 10,000. */
  maxSubscriberBacklog?: number;
  /** Recent events kept so a resuming subscriber is served without going back to the source. Default 10,000. */
  historyEvents?: number;
  /** Told about every failed load or broken watch (the mirror retries by itself). */
  onError?: (error: unknown) => void;
  /** Told each time a subscriber is cut off for falling behind (for a metric). */
  onSubscriberOverflow?: () => void;
}

/** What `stats()` reports: for metrics and tests. */
export interface MirrorStats {
  entries: number;
  revision: number;
  live: boolean;
  subscribers: number;
  /** Undelivered events held for all subscribers together: bounded by subscribers × maxSubscriberBacklog. */
  queuedEvents: number;
  /** Completed loads (the first one and every reload after a compaction, regression or broken feed). */
  loads: number;
}

type Devices = Map<string, DeviceEntry>;

/**
 * An in-memory copy of the registry, fed by a change feed: load a snapshot at revision R, follow changes
 * from R + 1, load again when the feed breaks for good (compaction, revision regression). The same class
 * serves the registry service (source: etcd) and a router (source: the service's Watch RPC).
 *
 * It answers only while it is known to be current: after a load, while its feed is connected, and not
 * below a revision the owner wrote itself (`noteWrite`), so an instance always sees its own acknowledged
 * writes; otherwise `lookup` returns undefined and the caller reads the source.
 */
export class DeviceMirror {
  private readonly users = new Map<string, Devices>();
  private readonly leaseEntries = new Map<bigint, number>();
  private readonly subscribers = new Set<Subscription>();
  private history: ChangeBatch[] = [];
  private historyCount = 0;
  /** Every event at or after this revision is in `history`. */
  private historyFrom = Number.POSITIVE_INFINITY;
  private appliedRevision = 0;
  private writeFloor = 0;
  private loaded = false;
  private connected = false;
  private closed = false;
  private watch: WatchHandle | undefined;
  private readonly readyWaiters = new Set<() => void>();
  private readonly catchUpWaiters = new Set<() => void>();
  private entryCount = 0;
  private loads = 0;
  private readonly maxBacklog: number;
  private readonly historyLimit: number;

  constructor(
    private readonly source: MirrorSource,
    private readonly options: MirrorOptions = {},
  ) {
    this.maxBacklog = options.maxSubscriberBacklog ?? 10_000;
    this.historyLimit = options.historyEvents ?? 10_000;
  }

  /** Starts loading and following; resolves after the first load (or when `signal` aborts). */
  start(signal?: AbortSignal): Promise<void> {
    void this.run();
    return this.ready(signal);
  }

  close(): void {
    this.closed = true;
    this.watch?.close();
    this.endSubscribers(new StoreError("unavailable", "the registry mirror is shutting down"));
    for (const wake of this.readyWaiters) wake();
    for (const wake of this.catchUpWaiters) wake();
  }

  /** Loaded and its feed connected. */
  get live(): boolean {
    return this.loaded && this.connected && !this.closed;
  }

  /** Every change up to this revision has been applied. */
  get revision(): number {
    return this.appliedRevision;
  }

  ready(signal?: AbortSignal): Promise<void> {
    if (this.live || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.readyWaiters.delete(done);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      this.readyWaiters.add(done);
      signal?.addEventListener("abort", done, { once: true });
    });
  }

  /** Lookups will not be answered from the mirror until it has applied `revision`. */
  noteWrite(revision: number): void {
    this.writeFloor = Math.max(this.writeFloor, revision);
  }

  /**
   * Waits (at most `timeoutMs`) until a live mirror has applied every write noted so far. The watch
   * usually delivers an acknowledged write within a millisecond or two, so a lookup right after a
   * register waits that long instead of paying an etcd round trip; a mirror that is not live, or
   * stays behind, lets the caller fall back to etcd after the timeout.
   */
  async catchUp(timeoutMs: number): Promise<void> {
    if (!this.live || this.appliedRevision >= this.writeFloor) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.catchUpWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.catchUpWaiters.add(done);
    });
  }

  stats(): MirrorStats {
    let queuedEvents = 0;
    for (const subscriber of this.subscribers) queuedEvents += subscriber.pending;
    return {
      entries: this.entryCount,
      revision: this.appliedRevision,
      live: this.live,
      subscribers: this.subscribers.size,
      queuedEvents,
      loads: this.loads,
    };
  }

  /** Whether any entry the mirror knows is attached to the lease. */
  hasLease(leaseId: bigint): boolean {
    return (this.leaseEntries.get(leaseId) ?? 0) > 0;
  }

  /** The users' devices at `revision`, or undefined when the mirror cannot vouch for being current. */
  lookup(userIds: Iterable<string>): Snapshot | undefined {
    if (!this.live || this.appliedRevision < this.writeFloor) return undefined;
    const entries: DeviceEntry[] = [];
    for (const userId of new Set(userIds)) {
      const devices = this.users.get(userId);
      if (devices) entries.push(...devices.values());
    }
    return { revision: this.appliedRevision, entries };
  }

  /** Every entry (for tests and tools). */
  entries(): DeviceEntry[] {
    return [...this.users.values()].flatMap((devices) => [...devices.values()]);
  }

  /**
   * A feed of changes from `fromRevision` (or from now, when undefined), or undefined if the mirror
   * cannot serve that point: not live, or older than the history it keeps.
   */
  subscribe(
    fromRevision: number | undefined,
    users?: ReadonlySet<string>,
    onOverflow?: () => void,
  ): { subscription: Subscription; startsAfter: number } | undefined {
    if (!this.live) return undefined;
    const from = fromRevision ?? this.appliedRevision + 1;
    if (from < this.historyFrom && from <= this.appliedRevision) return undefined;
    // Ahead of what the mirror has applied: either it lags the instance the client came from, or the
    // source's revision went backwards (etcd restored or replaced) and the client's history is gone.
    // Only the source can tell which, so the caller asks it.
    if (from > this.appliedRevision + 1) return undefined;
    const subscription: Subscription = new Subscription({
      users,
      fromRevision: from,
      maxBacklog: this.maxBacklog,
      onClose: () => this.subscribers.delete(subscription),
      onOverflow: () => {
        this.options.onSubscriberOverflow?.();
        onOverflow?.();
      },
    });
    for (const batch of this.history) if (batch.revision >= from) subscription.push(batch);
    this.subscribers.add(subscription);
    return { subscription, startsAfter: from - 1 };
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.closed) {
      try {
        const snapshot = await this.source.snapshot();
        if (this.closed) return;
        this.reset(snapshot);
        failures = 0;
        const failure = await this.follow(snapshot.revision + 1);
        this.options.onError?.(failure);
      } catch (error) {
        this.options.onError?.(error);
      }
      this.loaded = false;
      this.endSubscribers(
        new StoreError("unavailable", "the registry feed was interrupted; resume from the last revision"),
      );
      failures++;
      await new Promise((resolve) => setTimeout(resolve, Math.min(50 * 2 ** failures, 2_000)));
    }
  }

  /** Follows the feed until it fails for good; resolves with the failure. */
  private follow(fromRevision: number): Promise<Error> {
    return new Promise((resolve) => {
      this.connected = false;
      this.watch = this.source.watch(fromRevision, {
        batch: (batch) => this.apply(batch),
        error: (error) => {
          this.watch = undefined;
          this.connected = false;
          resolve(error);
        },
        connection: (connected) => {
          this.connected = connected;
          if (connected) this.wakeReady();
        },
      });
    });
  }

  private reset(snapshot: Snapshot): void {
    // A source whose revision went backwards (etcd restored or wiped) makes every write noted before
    // meaningless: keeping the floor would send every lookup to the source until revisions caught up.
    if (snapshot.revision < this.appliedRevision) this.writeFloor = 0;
    this.users.clear();
    this.leaseEntries.clear();
    this.entryCount = 0;
    for (const entry of snapshot.entries) this.put(entry);
    this.appliedRevision = snapshot.revision;
    this.loads++;
    this.history = [];
    this.historyCount = 0;
    this.historyFrom = snapshot.revision + 1;
    this.loaded = true;
  }

  private apply(batch: ChangeBatch): void {
    if (batch.revision <= this.appliedRevision) return;
    for (const event of batch.events) {
      if (event.type === "put") this.put(event.entry);
      else this.remove(event.entry);
    }
    this.appliedRevision = batch.revision;
    this.remember(batch);
    // A subscriber cut off during push leaves the set at once; deleting while iterating a Set is safe.
    for (const subscriber of this.subscribers) subscriber.push(batch);
    if (this.appliedRevision >= this.writeFloor) for (const wake of this.catchUpWaiters) wake();
  }

  private remember(batch: ChangeBatch): void {
    this.history.push(batch);
    this.historyCount += batch.events.length;
    while (this.historyCount > this.historyLimit && this.history.length > 1) {
      const dropped = this.history.shift()!;
      this.historyCount -= dropped.events.length;
      this.historyFrom = dropped.revision + 1;
    }
  }

  private put(entry: DeviceEntry): void {
    let devices = this.users.get(entry.userId);
    if (!devices) {
      devices = new Map();
      this.users.set(entry.userId, devices);
    }
    const previous = devices.get(entry.deviceId);
    if (previous) this.countLease(previous.leaseId, -1);
    else this.entryCount++;
    devices.set(entry.deviceId, entry);
    this.countLease(entry.leaseId, 1);
  }

  private remove(entry: DeviceEntry): void {
    const devices = this.users.get(entry.userId);
    const previous = devices?.get(entry.deviceId);
    if (!devices || !previous) return;
    devices.delete(entry.deviceId);
    this.entryCount--;
    if (devices.size === 0) this.users.delete(entry.userId);
    this.countLease(previous.leaseId, -1);
  }

  private countLease(leaseId: bigint, delta: number): void {
    const count = (this.leaseEntries.get(leaseId) ?? 0) + delta;
    if (count > 0) this.leaseEntries.set(leaseId, count);
    else this.leaseEntries.delete(leaseId);
  }

  private endSubscribers(error: Error): void {
    for (const subscriber of [...this.subscribers]) subscriber.fail(error);
    this.subscribers.clear();
  }

  private wakeReady(): void {
    if (!this.live) return;
    for (const wake of this.readyWaiters) wake();
  }
}
