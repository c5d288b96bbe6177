import type { IncomingHttpHeaders } from "node:http";

/** The longest delay a Node timer holds; a longer one fires after 1 ms, with a TimeoutOverflowWarning. */
const TIMER_MAX_MS = 2 ** 31 - 1;

const grpcTimeoutUnitMs: Record<string, number> = {
  H: 3_600_000,
  M: 60_000,
  S: 1_000,
  m: 1,
  u: 1e-3,
  n: 1e-6,
};

/** Milliseconds named by a `grpc-timeout` value (`<up to 8 digits><unit>`); NaN when it is not one. */
export function grpcTimeoutMs(value: string): number {
  const match = /^(\d{1,8})([HMSmun])$/.exec(value);
  return match ? Number(match[1]) * grpcTimeoutUnitMs[match[2]!]! : Number.NaN;
}

/**
 * Lowers a client deadline (`grpc-timeout`, `connect-timeout-ms`) that a timer cannot hold to the
 * longest one it can. Connect starts the call's deadline timer before it checks MAX_CALL_TIMEOUT_MS,
 * so `grpc-timeout: 99999999H` printed a 3-line TimeoutOverflowWarning per call (and armed a 1 ms
 * deadline). The lowered value is still far above MAX_CALL_TIMEOUT_MS (at most a day), so Connect
 * refuses the call with INVALID_ARGUMENT as it refuses any deadline above the maximum. Values that are
 * not deadlines at all are left for Connect to refuse.
 */
export function clampDeadlineHeaders(headers: IncomingHttpHeaders): void {
  // Node's headers of the request, before Connect copies them: two property reads per call.
  const grpcTimeout = headers["grpc-timeout"];
  if (typeof grpcTimeout === "string" && grpcTimeoutMs(grpcTimeout) > TIMER_MAX_MS) {
    headers["grpc-timeout"] = `${Math.floor(TIMER_MAX_MS / 1_000)}S`;
  }
  const connectTimeout = headers["connect-timeout-ms"];
  if (typeof connectTimeout === "string" && Number(connectTimeout) > TIMER_MAX_MS) {
    headers["connect-timeout-ms"] = String(TIMER_MAX_MS);
  }
}
