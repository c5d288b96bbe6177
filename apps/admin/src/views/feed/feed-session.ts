import type { Client } from "@connectrpc/connect";
import {
  type DeviceLocation,
  type RegistryService,
  type WatchEvent,
  WatchEvent_Reason,
  WatchEvent_Type,
} from "@im-core/proto";
import { isPermanent } from "../../rpc/errors";
import { EventRates } from "./rates";

export interface FeedEvent {
  /** Unique within the feed: revision and position in it. */
  key: string;
  receivedAt: number;
  revision: bigint;
  type: "put" | "delete";
  location: DeviceLocation | undefined;
  /** A PUT that replaced an entry: where the device was before. */
  previous: DeviceLocation | undefined;
  reason: WatchEvent_Reason;
  /** Delivered from history after a disconnect or a pause: it happened while the feed was not live. */
  recovered: boolean;
}

/** What a resumed stream delivered from history: the revisions the feed was not live for. */
export interface RecoveredGap {
  cause: "disconnect" | "pause";
  fromRevision: bigint;
  /** The registry's revision when the feed resumed: events up to it happened while it was away. */
  toRevision: bigint;
  awayMs: number;
  events: number;
}

export type FeedStatus = "connecting" | "live" | "paused" | "reconnecting" | "stopped";

export interface FeedState {
  status: FeedStatus;
  /** The revision the feed started after, once the first stream was established. */
  startedAfter: bigint | undefined;
  /** Every event up to this revision has been received. */
  lastRevision: bigint | undefined;
  /** Newest first, at most {@link MAX_EVENTS}. */
  events: readonly FeedEvent[];
  gaps: readonly RecoveredGap[];
  /** The last failure: shown while reconnecting, or why the feed stopped. */
  error: unknown;
  nextAttemptAt: number | undefined;
  rates: EventRates;
}

const MAX_EVENTS = 500;
/** Reconnect delays grow 0.5, 1, 2, 4 s and stay at 4 s: an outage is noticed soon after it ends. */
const retryDelayMs = (failures: number) => Math.min(500 * 2 ** (failures - 1), 4_000);

/**
 * One Watch of the registry that survives disconnects: it resumes from the revision after the last one
 * received, so no event is lost or repeated, and tells which events it recovered from history. It stops
 * on errors a retry cannot fix (a refused token, a compacted revision), with the error.
 */
export class FeedSession {
  private state: FeedState = {
    status: "connecting",
    startedAfter: undefined,
    lastRevision: undefined,
    events: [],
    gaps: [],
    error: undefined,
    nextAttemptAt: undefined,
    rates: new EventRates(),
  };
  private readonly listeners = new Set<() => void>();
  private running: AbortController | undefined;
  private awaySince: { at: number; cause: RecoveredGap["cause"] } | undefined;

  constructor(
    private readonly client: Client<typeof RegistryService>,
    /** Whose devices it follows; empty for every user. */
    readonly userIds: readonly string[],
  ) {}

  readonly subscribe = (listener: () => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  readonly snapshot = () => this.state;

  start(): void {
    if (this.running) return;
    this.running = new AbortController();
    void this.run(this.running.signal);
  }

  pause(): void {
    this.halt();
    this.awaySince = { at: Date.now(), cause: "pause" };
    this.update({ status: "paused", nextAttemptAt: undefined });
  }

  resume(): void {
    if (this.state.status !== "paused") return;
    this.update({ status: "reconnecting" });
    this.start();
  }

  /** Ends the stream for good (the view went away or the filter changed). */
  halt(): void {
    this.running?.abort();
    this.running = undefined;
  }

  private update(change: Partial<FeedState>): void {
    this.state = { ...this.state, ...change };
    for (const listener of this.listeners) listener();
  }

  private async run(signal: AbortSignal): Promise<void> {
    let failures = 0;
    while (!signal.aborted) {
      try {
        await this.stream(signal, () => {
          failures = 0;
        });
        throw new Error("the Watch stream ended without an error"); // the contract says it never does
      } catch (error) {
        if (signal.aborted) return;
        this.awaySince ??= { at: Date.now(), cause: "disconnect" };
        if (isPermanent(error)) {
          this.running = undefined;
          this.update({ status: "stopped", error, nextAttemptAt: undefined });
          return;
        }
        failures++;
        const delay = retryDelayMs(failures);
        this.update({ status: "reconnecting", error, nextAttemptAt: Date.now() + delay });
        await new Promise((resolve) => {
          const timer = setTimeout(resolve, delay);
          signal.addEventListener("abort", () => clearTimeout(timer), { once: true });
        });
      }
    }
  }

  /** One stream: from the revision after the last one received, or from now for a new feed. */
  private async stream(signal: AbortSignal, onEstablished: () => void): Promise<void> {
    const last = this.state.lastRevision;
    let gap: RecoveredGap | undefined;
    if (last !== undefined && this.awaySince) {
      // Where the registry is now: events up to here happened while the feed was away.
      const { revision } = await this.client.batchLookup({ userIds: [] }, { signal });
      gap = {
        cause: this.awaySince.cause,
        fromRevision: last + 1n,
        toRevision: revision,
        awayMs: Date.now() - this.awaySince.at,
        events: 0,
      };
    }
    const request = { userIds: [...this.userIds], startRevision: last === undefined ? 0n : last + 1n };
    for await (const response of this.client.watch(request, { signal })) {
      if (this.state.status !== "live") {
        onEstablished();
        this.awaySince = undefined;
        this.update({
          status: "live",
          error: undefined,
          nextAttemptAt: undefined,
          startedAfter: this.state.startedAfter ?? response.revision,
          ...(gap ? { gaps: [gap, ...this.state.gaps] } : {}),
        });
      }
      // One arrival time per response: events of one revision count in the same second.
      const receivedAt = Date.now();
      const received = response.events.map((event, index) => this.toFeedEvent(event, index, receivedAt, gap));
      for (const event of received) this.state.rates.add(event.type, event.receivedAt);
      if (gap) {
        const recovered = received.filter((event) => event.recovered).length;
        if (recovered > 0) {
          const updated: RecoveredGap = { ...gap, events: gap.events + recovered };
          this.state = { ...this.state, gaps: this.state.gaps.map((g) => (g === gap ? updated : g)) };
          gap = updated;
        }
      }
      this.update({
        lastRevision: response.revision,
        events: [...received.reverse(), ...this.state.events].slice(0, MAX_EVENTS),
      });
    }
  }

  private toFeedEvent(
    event: WatchEvent,
    index: number,
    receivedAt: number,
    gap: RecoveredGap | undefined,
  ): FeedEvent {
    return {
      key: `${event.revision}:${index}`,
      receivedAt,
      revision: event.revision,
      type: event.type === WatchEvent_Type.DELETE ? "delete" : "put",
      location: event.location,
      previous: event.previous,
      reason: event.reason,
      recovered: gap !== undefined && event.revision <= gap.toRevision,
    };
  }
}

export const REASON_TEXT: Record<WatchEvent_Reason, string> = {
  [WatchEvent_Reason.UNSPECIFIED]: "",
  [WatchEvent_Reason.TAKEN_OVER]: "taken over",
  [WatchEvent_Reason.EVICTED]: "evicted by the device limit",
  [WatchEvent_Reason.LEASE_ENDED]: "lease ended",
  [WatchEvent_Reason.UNREGISTERED]: "unregistered",
};
