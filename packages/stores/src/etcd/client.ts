import { backoff, StoreError, sleep, withDeadline } from "@im-core/common";
import {
  ConsecutiveBreaker,
  circuitBreaker,
  ExponentialBackoff,
  handleWhen,
  isBrokenCircuitError,
  noop,
} from "cockatiel";
import { Etcd3, EtcdLeaseInvalidError, isRecoverableError, type KVClient } from "etcd3";

/** gRPC call options of an etcd request (its per-attempt deadline), as etcd3 types them. */
export type GrpcCallOptions = NonNullable<Parameters<KVClient["range"]>[1]>;

/**
 * The etcd3 client, configured for a service that must answer within each call's deadline: every
 * endpoint, no hidden retries of its own (we retry knowing the deadline), a dead member skipped for
 * half a second instead of etcd3's default five, and a fast watch reconnect.
 */
export function connectEtcd(endpoints: readonly string[]): Etcd3 {
  if (endpoints.length === 0) throw new Error("at least one etcd endpoint is required");
  return new Etcd3({
    hosts: [...endpoints],
    dialTimeout: 1_000,
    grpcOptions: {
      // Notice a member that stopped answering (paused, partitioned) instead of waiting on TCP; etcd refuses
      // pings more often than every 5 s (--grpc-keepalive-min-time).
      "grpc.keepalive_time_ms": 5_000,
      "grpc.keepalive_timeout_ms": 2_000,
      "grpc.keepalive_permit_without_calls": 1,
    },
    faultHandling: {
      global: noop,
      host: () =>
        circuitBreaker(handleWhen(isRecoverableError), {
          halfOpenAfter: 500,
          breaker: new ConsecutiveBreaker(3),
        }),
      watchBackoff: new ExponentialBackoff({ initialDelay: 50, maxDelay: 1_000 }).next(),
    },
  });
}

/** Errors that mean "etcd did not answer, or answered that it cannot right now": retry is safe. */
function isTransient(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (isBrokenCircuitError(error) || isRecoverableError(error)) return true;
  return /leader changed|no leader|request timed out|too many requests|Deadline exceeded|ECONNREFUSED|UNAVAILABLE|closed/i.test(
    error.message,
  );
}

/** Maps an etcd3 error to our vocabulary; unknown errors (bugs) pass through untouched. */
export function toStoreError(error: unknown, what: string): unknown {
  if (error instanceof StoreError) return error;
  if (error instanceof EtcdLeaseInvalidError)
    return new StoreError("not_found", "lease not found (expired or revoked)");
  if (error instanceof Error && /compacted/.test(error.message)) {
    return new StoreError("out_of_range", `${what}: the requested revision has been compacted`, {
      cause: error,
    });
  }
  if (isTransient(error)) return new StoreError("unavailable", `${what}: etcd unavailable`, { cause: error });
  return error;
}

export interface Deadline {
  /** Absolute time (ms) after which no attempt starts and running ones are abandoned. */
  at: number;
  signal?: AbortSignal;
}

export function deadlineFrom(timeoutMs: number, signal?: AbortSignal): Deadline {
  return signal ? { at: Date.now() + timeoutMs, signal } : { at: Date.now() + timeoutMs };
}

function remaining(deadline: Deadline): number {
  return deadline.signal?.aborted ? 0 : deadline.at - Date.now();
}

/**
 * Runs `attempt` until it succeeds, fails for a non-transient reason, or the deadline passes. Every
 * attempt carries a gRPC deadline too, so an attempt stuck on a dead member is abandoned by gRPC itself.
 * Only for operations that are safe to repeat: reads, and writes guarded by a compare.
 */
export async function withRetry<T>(
  what: string,
  deadline: Deadline,
  attempt: (options: GrpcCallOptions) => Promise<T>,
): Promise<T> {
  const expired = (cause?: unknown) =>
    new StoreError("unavailable", `${what}: etcd did not answer in time`, { cause });
  let lastError: unknown;
  for (let n = 0; ; n++) {
    const left = remaining(deadline);
    if (left <= 0) throw expired(lastError);
    // Bound one attempt so a member that hangs leaves time to try another.
    const slice = Math.max(Math.min(left, 1_500), Math.min(left, 200));
    try {
      return await withDeadline(attempt({ deadline: Date.now() + slice }), left, expired, deadline.signal);
    } catch (error) {
      const mapped = toStoreError(error, what);
      if (!(mapped instanceof StoreError) || mapped.kind !== "unavailable") throw mapped;
      lastError = error;
    }
    await sleep(backoff(n, 25, 250));
  }
}
