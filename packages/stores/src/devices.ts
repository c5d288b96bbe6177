/**
 * The registry's data as the etcd store, the device mirror and their callers share it: plain data,
 * no etcd or protobuf types.
 */

/** One device of one user: where it is connected, since when, and on which lease. */
export interface DeviceEntry {
  userId: string;
  deviceId: string;
  gatewayNode: string;
  /** Milliseconds since the Unix epoch, taken by the instance that registered the device. */
  connectedAtMs: number;
  /** The etcd lease the entry is attached to. */
  leaseId: bigint;
  /** The etcd revision that wrote this entry. */
  modRevision: number;
}

/**
 * Why an entry changed, as the etcd history of its revision tells: a put replacing an entry on another
 * gateway node (`taken_over`); a delete in the same revision as the lease's own key (`lease_ended`:
 * expiry or revoke), beside a put of the same user (`evicted` by the device limit), or alone
 * (`unregistered`).
 */
export type ChangeReason = "taken_over" | "evicted" | "lease_ended" | "unregistered";

export interface ChangeEvent {
  type: "put" | "delete";
  /** The new entry for "put", the removed one for "delete". */
  entry: DeviceEntry;
  revision: number;
  /** Set for every delete, and for a put that moved the device off another gateway node. */
  reason?: ChangeReason | undefined;
  /** For a put that replaced an entry: the entry it replaced (a gateway learns it lost the device). */
  previous?: DeviceEntry | undefined;
}

/** The events of one or more whole revisions, and the revision they bring the reader to. */
export interface ChangeBatch {
  revision: number;
  events: ChangeEvent[];
}

/** Entries at one revision: every entry, or those of the users asked for. */
export interface DeviceSnapshot {
  revision: number;
  entries: DeviceEntry[];
}

export interface CallOptions {
  /** Aborts the call (e.g. the RPC's deadline or cancellation); it then fails with `unavailable`. */
  signal?: AbortSignal;
  /**
   * Absolute time (ms since the epoch) the call must end by, when earlier than the store's own call
   * timeout: several calls that make up one operation share one budget.
   */
  until?: number;
}

/** Receives a watch's output. Both callbacks are called from the event loop, never re-entrantly. */
export interface WatchSink {
  batch(batch: ChangeBatch): void;
  /** The watch has ended for good (a `StoreError`: `out_of_range` after compaction, or `unavailable`). */
  error(error: Error): void;
  /** The connection to the source dropped (false) or came back (true); the watch resumes by itself. */
  connection?(connected: boolean): void;
}

export interface WatchHandle {
  close(): void;
}

/** Where a mirror loads from and follows: the etcd store itself, or the Watch RPC of a registry service. */
export interface MirrorSource {
  /**
   * Every entry at one revision. A source that reads in pages may hand each page to `onPage` as it
   * arrives instead of answering it in `entries` (a million entries then never exist all at once as
   * entries); the caller takes both.
   */
  snapshot(
    options?: CallOptions,
    onPage?: (entries: readonly DeviceEntry[]) => void,
  ): Promise<DeviceSnapshot>;
  /** Streams every change from `fromRevision` on, in revision order. */
  watch(fromRevision: number, sink: WatchSink): WatchHandle;
}
