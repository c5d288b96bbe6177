import { StoreError } from "../../errors.js";
import type { ChangeBatch, DeviceEntry, MirrorSource, Snapshot, WatchHandle } from "../types.js";
import { Subscription } from "./subscription.js";

export interface MirrorOptions<V = DeviceEntry> {
  /** Most undelivered events per subscriber before it is cut off with `exhausted`. Default 10,000. */
  maxSubscriberBacklog?: number;
  /** Recent events kept so a resuming subscriber is served without going back to the source. Default 10,000. */
  historyEvents?: number;
  /** Told about every failed load or broken watch (the mirror retries by itself). */
  onError?: (error: unknown) => void;
  /** Told each time a subscriber is cut off for falling behind (for a metric). */
  onSubscriberOverflow?: () => void;
  /**
   * Builds what `views` answers for an entry (e.g. the ready-to-send message of an RPC response), once,
   * when the mirror applies the entry: an entry never changes within a revision, so the result is reused
   * by every lookup until the next event for that device replaces it. Must not be mutated by callers.
   * Default: the entry itself.
   */
  view?: (entry: DeviceEntry) => V;
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

/** The views of some users' devices at one revision (see `DeviceMirror.views`). */
export interface ViewSnapshot<V> {
  revision: number;
  /** Sorted by user, then device. Shared and read-only: callers must not mutate it. */
  views: readonly V[];
}

/**
 * One user's devices, sorted by device id, as two parallel arrays. Never mutated once built: a change
 * replaces both arrays, so `views` may hand them out without copying.
 */
interface Devices<V> {
  readonly entries: readonly DeviceEntry[];
  readonly views: readonly V[];
}

const noViews: readonly never[] = Object.freeze([]);

/**
 * An in-memory copy of the registry, fed by a change feed: load a snapshot at revision R, follow changes
 * from R + 1, load again when the feed breaks for good (compaction, revision regression). The same class
 * serves the registry service (source: etcd) and a router (source: the service's Watch RPC).
 *
 * It answers only while it is known to be current: after a load, while its feed is connected, and not
 * below a revision the owner wrote itself (`noteWrite`), so an instance always sees its own acknowledged
 * writes; otherwise `lookup` returns undefined and the caller reads the source.
 */
export class DeviceMirror<V = DeviceEntry> {
  private readonly users = new Map<string, Devices<V>>();
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
  private readonly catchUpWaiters = new Map<() => void, number>();
  private entryCount = 0;
  private loads = 0;
  private readonly maxBacklog: number;
  private readonly historyLimit: number;
  private readonly view: (entry: DeviceEntry) => V;

  constructor(
    private readonly source: MirrorSource,
    private readonly options: MirrorOptions<V> = {},
  ) {
    this.maxBacklog = options.maxSubscriberBacklog ?? 10_000;
    this.historyLimit = options.historyEvents ?? 10_000;
    this.view = options.view ?? ((entry) => entry as unknown as V);
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
    for (const wake of this.catchUpWaiters.keys()) wake();
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
   * Waits (at most `timeoutMs`) until a live mirror has applied every write noted so far, and answers
   * that revision: pass it to `lookup` as `atLeast`. Writes noted later are concurrent with the caller's
   * read and need not be in its answer; waiting for them too would, under a steady stream of writes,
   * never end. The watch usually delivers an acknowledged write within a millisecond or two, so a
   * lookup right after a register waits that long instead of paying an etcd round trip.
   */
  async catchUp(timeoutMs: number): Promise<number> {
    const floor = this.writeFloor;
    if (!this.live || this.appliedRevision >= floor) return floor;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.catchUpWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.catchUpWaiters.set(done, floor);
    });
    return floor;
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

  /**
   * The users' devices at `revision`, or undefined when the mirror cannot vouch for being current:
   * not live, or not yet at `atLeast` (default: every write its owner noted so far).
   */
  lookup(userIds: Iterable<string>, atLeast = this.writeFloor): Snapshot | undefined {
    if (!this.live || this.appliedRevision < atLeast) return undefined;
    const entries: DeviceEntry[] = [];
    for (const userId of new Set(userIds)) {
      const devices = this.users.get(userId);
      if (devices) for (const entry of devices.entries) entries.push(entry);
    }
    return { revision: this.appliedRevision, entries };
  }

  /**
   * One user's views (`MirrorOptions.view`), sorted by device, at `revision` (read it in the same tick),
   * or undefined when the mirror cannot vouch for being current (as `lookup`). The mirror's own
   * read-only array: nothing is built or copied per call.
   */
  userViews(userId: string, atLeast = this.writeFloor): readonly V[] | undefined {
    if (!this.live || this.appliedRevision < atLeast) return undefined;
    return this.users.get(userId)?.views ?? noViews;
  }

  /**
   * Like `lookup`, but answers the entries' views (`MirrorOptions.view`), built when they were applied,
   * sorted by user, then device (UTF-16 code unit order), each user once. For a single user the answer
   * is the mirror's own read-only array: nothing is built or copied per call.
   */
  views(userIds: readonly string[], atLeast = this.writeFloor): ViewSnapshot<V> | undefined {
    if (!this.live || this.appliedRevision < atLeast) return undefined;
    const revision = this.appliedRevision;
    if (userIds.length === 1) return { revision, views: this.users.get(userIds[0]!)?.views ?? noViews };
    const users = [...new Set(userIds)].sort();
    const views: V[] = [];
    for (const userId of users) {
      const devices = this.users.get(userId);
      if (devices) for (const view of devices.views) views.push(view);
    }
    return { revision, views };
  }

  /** Every entry (for tests and tools). */
  entries(): DeviceEntry[] {
    return [...this.users.values()].flatMap((devices) => [...devices.entries]);
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
    for (const [wake, floor] of this.catchUpWaiters) if (this.appliedRevision >= floor) wake();
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
    const view = this.view(entry);
    const devices = this.users.get(entry.userId);
    if (!devices) {
      this.users.set(entry.userId, { entries: [entry], views: [view] });
      this.entryCount++;
      this.countLease(entry.leaseId, 1);
      return;
    }
    const index = position(devices.entries, entry.deviceId);
    const entries = devices.entries.slice();
    const views = devices.views.slice();
    const previous = entries[index];
    if (previous?.deviceId === entry.deviceId) {
      this.countLease(previous.leaseId, -1);
      entries[index] = entry;
      views[index] = view;
    } else {
      this.entryCount++;
      entries.splice(index, 0, entry);
      views.splice(index, 0, view);
    }
    this.users.set(entry.userId, { entries, views });
    this.countLease(entry.leaseId, 1);
  }

  private remove(entry: DeviceEntry): void {
    const devices = this.users.get(entry.userId);
    if (!devices) return;
    const index = position(devices.entries, entry.deviceId);
    const previous = devices.entries[index];
    if (previous?.deviceId !== entry.deviceId) return;
    this.entryCount--;
    if (devices.entries.length === 1) this.users.delete(entry.userId);
    else {
      const entries = devices.entries.slice();
      const views = devices.views.slice();
      entries.splice(index, 1);
      views.splice(index, 1);
      this.users.set(entry.userId, { entries, views });
    }
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

/** Where `deviceId` is, or would be inserted, in entries sorted by device id (binary search). */
function position(entries: readonly DeviceEntry[], deviceId: string): number {
  let low = 0;
  let high = entries.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (entries[mid]!.deviceId < deviceId) low = mid + 1;
    else high = mid;
  }
  return low;
}
