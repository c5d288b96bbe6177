import { backoff, StoreError, sleep } from "@im-core/common";
import type { ChangeBatch, DeviceEntry, DeviceSnapshot, MirrorSource, WatchHandle } from "../devices.js";
import { DeviceIndex } from "./device-index.js";
import { FanOut } from "./fan-out.js";
import { History } from "./history.js";
import type { Subscription } from "./subscription.js";
import { WriteFloor } from "./write-floor.js";

/** Undelivered events a subscriber may fall behind before it is cut off, unless told otherwise. */
export const DEFAULT_SUBSCRIBER_BACKLOG = 10_000;

export interface MirrorOptions<V extends DeviceEntry = DeviceEntry> {
  /**
   * Most undelivered events per subscriber before it is cut off with `exhausted`; also how many recent
   * events are kept for subscribers that resume (one cut off for lag is at most that far behind).
   * Default {@link DEFAULT_SUBSCRIBER_BACKLOG}.
   */
  maxSubscriberBacklog?: number;
  /** Told about every failed load or broken feed (the mirror retries by itself). */
  onError?: (error: unknown) => void;
  /**
   * Builds what `views` answers for an entry (e.g. the ready-to-send message of an RPC response), once,
   * when the mirror applies the entry. It is all the mirror keeps of the entry, so it carries the
   * entry's fields too (`lookup` answers it as the entry). Must not be mutated by callers. Default: the
   * entry itself.
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
 * An in-memory copy of the registry, fed by a change feed: load a snapshot at revision R, follow changes
 * from R + 1, load again when the feed breaks for good (compaction, revision regression). The same class
 * serves the registry service (source: etcd) and a router (source: the service's Watch RPC).
 *
 * It answers only while it is known to be current: after a load, while its feed is connected, and not
 * below a revision the owner wrote itself (`noteWrite`), so an instance always sees its own acknowledged
 * writes; otherwise a read returns undefined and the caller reads the source.
 */
export class DeviceMirror<V extends DeviceEntry = DeviceEntry> {
  readonly #source: MirrorSource;
  readonly #onError: (error: unknown) => void;
  readonly #maxBacklog: number;
  readonly #view: (entry: DeviceEntry) => V;
  #index: DeviceIndex<V>;
  readonly #history: History;
  readonly #subscribers = new FanOut();
  readonly #writes = new WriteFloor();
  readonly #readyWaiters = new Set<() => void>();
  #applied = 0;
  #loads = 0;
  #loaded = false;
  #connected = false;
  #closed = false;
  #watch: WatchHandle | undefined;

  constructor(source: MirrorSource, options: MirrorOptions<V> = {}) {
    this.#source = source;
    this.#onError = options.onError ?? (() => {});
    this.#maxBacklog = options.maxSubscriberBacklog ?? DEFAULT_SUBSCRIBER_BACKLOG;
    this.#view = options.view ?? ((entry) => entry as V);
    this.#index = new DeviceIndex(this.#view);
    this.#history = new History(this.#maxBacklog);
  }

  /** Starts loading and following; resolves after the first load (or when `signal` aborts). */
  start(signal?: AbortSignal): Promise<void> {
    void this.#run();
    return this.ready(signal);
  }

  close(): void {
    this.#closed = true;
    this.#watch?.close();
    this.#subscribers.endAll(new StoreError("unavailable", "the registry mirror is shutting down"));
    this.#wakeReady();
    this.#writes.wakeAll();
  }

  /** Loaded and its feed connected. */
  get live(): boolean {
    return this.#loaded && this.#connected && !this.#closed;
  }

  /** Every change up to this revision has been applied. */
  get revision(): number {
    return this.#applied;
  }

  ready(signal?: AbortSignal): Promise<void> {
    if (this.live || this.#closed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.#readyWaiters.delete(done);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      this.#readyWaiters.add(done);
      signal?.addEventListener("abort", done, { once: true });
    });
  }

  /**
   * Reads of `userIds` (of every user, when the write's users are unknown) will not be answered from the
   * mirror until it has applied `revision`.
   */
  noteWrite(revision: number, userIds?: Iterable<string>): void {
    this.#writes.note(revision, userIds);
  }

  /**
   * Waits (at most `timeoutMs`) until a live mirror has applied every write noted so far to `userIds`
   * (to anyone, when undefined), and answers that revision: pass it to a read of those users as
   * `atLeast`. The feed usually delivers an acknowledged write within a millisecond or two, so a lookup
   * right after a register waits that long instead of paying a read from the source.
   */
  catchUp(timeoutMs: number, userIds?: readonly string[]): Promise<number> {
    if (!this.live) return Promise.resolve(this.#writes.for(userIds));
    return this.#writes.wait(timeoutMs, () => this.#applied, userIds);
  }

  stats(): MirrorStats {
    return {
      entries: this.#index.size,
      revision: this.#applied,
      live: this.live,
      subscribers: this.#subscribers.size,
      queuedEvents: this.#subscribers.queuedEvents,
      loads: this.#loads,
    };
  }

  /** Whether any entry the mirror knows is attached to the lease. */
  hasLease(leaseId: bigint): boolean {
    return this.#index.hasLease(leaseId);
  }

  /**
   * The users' entries at `revision`, or undefined when the mirror cannot vouch for being current: not
   * live, or not yet at `atLeast` (default: every write its owner noted so far to these users).
   */
  lookup(userIds: readonly string[], atLeast = this.#writes.for(userIds)): DeviceSnapshot | undefined {
    if (!this.#current(atLeast)) return undefined;
    return { revision: this.#applied, entries: this.#index.entriesOf(userIds) };
  }

  /** Like `lookup`, but answers the entries' views (`MirrorOptions.view`), sorted by user, then device. */
  views(userIds: readonly string[], atLeast = this.#writes.for(userIds)): ViewSnapshot<V> | undefined {
    if (!this.#current(atLeast)) return undefined;
    return { revision: this.#applied, views: this.#index.viewsOf(userIds) };
  }

  /** Every entry, whether or not the mirror is current (tests and tools). */
  entries(): DeviceEntry[] {
    return this.#index.all();
  }

  /**
   * A feed of changes from `fromRevision` (or from now, when undefined), or undefined if the mirror
   * cannot serve that point: not live, older than the history it keeps, or ahead of what it has applied
   * (it lags the instance the client came from, or the source's revision went backwards: only the source
   * can tell which).
   */
  subscribe(
    fromRevision: number | undefined,
    users?: ReadonlySet<string>,
    onOverflow?: () => void,
    gateways?: ReadonlySet<string>,
  ): { subscription: Subscription; startsAfter: number } | undefined {
    if (!this.live) return undefined;
    const from = fromRevision ?? this.#applied + 1;
    if ((!this.#history.covers(from) && from <= this.#applied) || from > this.#applied + 1) return undefined;
    const subscription = this.#subscribers.add(
      {
        users,
        gateways,
        fromRevision: from,
        maxBacklog: this.#maxBacklog,
        ...(onOverflow ? { onOverflow } : {}),
      },
      this.#history.since(from),
    );
    return { subscription, startsAfter: from - 1 };
  }

  #current(atLeast: number): boolean {
    return this.live && this.#applied >= atLeast;
  }

  async #run(): Promise<void> {
    for (let failures = 0; !this.#closed; failures++) {
      try {
        const revision = await this.#load();
        if (revision === undefined) return;
        failures = 0;
        this.#onError(await this.#follow(revision + 1));
      } catch (error) {
        this.#onError(error);
      }
      this.#loaded = false;
      this.#subscribers.endAll(
        new StoreError("unavailable", "the registry feed was interrupted; resume from the last revision"),
      );
      await sleep(backoff(failures, 50, 2_000));
    }
  }

  /** Follows the feed until it fails for good; resolves with the failure. */
  #follow(fromRevision: number): Promise<Error> {
    return new Promise((resolve) => {
      this.#connected = false;
      this.#watch = this.#source.watch(fromRevision, {
        batch: (batch) => this.#apply(batch),
        error: (error) => {
          this.#watch = undefined;
          this.#connected = false;
          resolve(error);
        },
        connection: (connected) => {
          this.#connected = connected;
          if (connected && this.live) this.#wakeReady();
        },
      });
    });
  }

  /**
   * Loads a snapshot and answers its revision (undefined once closed). A function of its own so that
   * nothing keeps the snapshot's entries once they are indexed: a variable of `#run` would hold them
   * (a second copy of every entry) for as long as the feed that follows runs.
   */
  async #load(): Promise<number | undefined> {
    // Built apart and swapped in whole: until then, the index answers as it did (hasLease) and a failed
    // load leaves it as it was. Pages go in as they arrive, so their entries die young.
    const index = new DeviceIndex(this.#view);
    const snapshot = await this.#source.snapshot(undefined, (entries) => {
      for (const entry of entries) index.put(entry);
    });
    if (this.#closed) return undefined;
    for (const entry of snapshot.entries) index.put(entry);
    // A source whose revision went backwards (etcd restored or wiped) makes every write noted before
    // meaningless: keeping the floor would send every read to the source until revisions caught up.
    if (snapshot.revision < this.#applied) this.#writes.reset();
    this.#index = index;
    this.#applied = snapshot.revision;
    this.#history.reset(snapshot.revision);
    this.#loads++;
    this.#loaded = true;
    return snapshot.revision;
  }

  #apply(batch: ChangeBatch): void {
    if (batch.revision <= this.#applied) return;
    for (const event of batch.events) {
      if (event.type === "put") this.#index.put(event.entry);
      else this.#index.remove(event.entry);
    }
    this.#applied = batch.revision;
    this.#history.push(batch);
    this.#subscribers.push(batch);
    this.#writes.applied(batch.revision);
  }

  #wakeReady(): void {
    for (const wake of this.#readyWaiters) wake();
  }
}
