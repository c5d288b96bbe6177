import { Code, ConnectError } from "@connectrpc/connect";

/** Milliseconds since the run started, from one monotonic clock: the only clock the checker compares. */
export type Millis = number;

/**
 * ok: the service acknowledged the call (a fact). fail: the service itself answered a code that the API
 * documents as "nothing was changed" (a fact too). indeterminate: no answer (timeout, connection error)
 * or an answer that does not say whether the call took effect (DEADLINE_EXCEEDED, CANCELED, INTERNAL).
 */
export type Outcome = "ok" | "fail" | "indeterminate";

export interface CallRecord {
  id: number;
  worker: string;
  service: "registry" | "sequence";
  rpc: string;
  /** Index of the service instance called. */
  instance: number;
  args: Record<string, unknown>;
  invokeMs: Millis;
  completeMs: Millis;
  outcome: Outcome;
  /** The Connect code name for fail and indeterminate ("unavailable", "deadline_exceeded", ...). */
  code?: string;
  /** Whether the service answered (its x-request-id came back), so the code is its own word. */
  answered?: boolean;
  message?: string;
  result?: Record<string, unknown>;
}

export interface WatchEventRecord {
  revision: number;
  type: "put" | "delete";
  userId: string;
  deviceId: string;
  gatewayNode: string;
  leaseId: string;
}

/** One Watch call: from its request to the end of its stream. A router's stream is a chain of these. */
export interface WatchSegment {
  stream: string;
  instance: number;
  startRevision: number;
  openedMs: Millis;
  /** Revision the stream said it starts after (its first response); undefined if none came. */
  firstRevision?: number;
  responses: { atMs: Millis; revision: number; events: WatchEventRecord[] }[];
  endMs?: Millis;
  /** "normal" for a stream the server ended without error, else the code (or "aborted" at the run's end). */
  end?: string;
  message?: string;
}

export interface FaultRecord {
  kind: string;
  detail: string;
  injectMs: Millis;
  healMs?: Millis;
  error?: string;
}

/** Codes whose effect the answer does not settle: the call may have taken effect. */
const UNSETTLED = new Set<Code>([Code.DeadlineExceeded, Code.Canceled, Code.Internal, Code.Unknown]);

export function classify(error: unknown): {
  outcome: Outcome;
  code: string;
  answered: boolean;
  message: string;
} {
  const connectError = ConnectError.from(error);
  const answered = connectError.metadata.has("x-request-id");
  const code = Code[connectError.code].replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
  const outcome: Outcome = answered && !UNSETTLED.has(connectError.code) ? "fail" : "indeterminate";
  return { outcome, code, answered, message: connectError.rawMessage.slice(0, 200) };
}

/** Everything a run observed; the checker reads nothing else. */
export class History {
  private readonly started = performance.now();
  readonly calls: CallRecord[] = [];
  readonly watches: WatchSegment[] = [];
  readonly faults: FaultRecord[] = [];

  now(): Millis {
    return Math.round((performance.now() - this.started) * 1000) / 1000;
  }

  /** Runs `call`, recording its invocation, completion and outcome. Never throws: the record says it. */
  async record<T extends object>(
    meta: Pick<CallRecord, "worker" | "service" | "rpc" | "instance" | "args">,
    call: () => Promise<T>,
    summarize: (result: T) => Record<string, unknown>,
  ): Promise<CallRecord> {
    const invokeMs = this.now();
    let record: CallRecord;
    try {
      const result = await call();
      record = { id: 0, ...meta, invokeMs, completeMs: this.now(), outcome: "ok", result: summarize(result) };
    } catch (error) {
      record = { id: 0, ...meta, invokeMs, completeMs: this.now(), ...classify(error) };
    }
    record.id = this.calls.length;
    this.calls.push(record);
    return record;
  }

  openWatch(segment: Omit<WatchSegment, "openedMs" | "responses">): WatchSegment {
    const full: WatchSegment = { ...segment, openedMs: this.now(), responses: [] };
    this.watches.push(full);
    return full;
  }

  fault(kind: string, detail: string): FaultRecord {
    const record: FaultRecord = { kind, detail, injectMs: this.now() };
    this.faults.push(record);
    return record;
  }
}
