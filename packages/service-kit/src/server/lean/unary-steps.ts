import type { ConnectError } from "@connectrpc/connect";
import { withDefaultDeadline } from "../../limits/deadline-interceptor.js";
import type { ServiceMetrics } from "../../observability/metrics.js";
import type { RequestLog } from "../../observability/request-log.js";

/** The cross-cutting steps of a unary call, as plain functions (the interceptors call the same ones). */
export interface UnarySteps {
  metrics: ServiceMetrics;
  requestLog: RequestLog;
  /** Store errors and aborts to codes (errors.ts). */
  mapError: (error: unknown) => ConnectError;
  defaultCallTimeoutMs: number;
}

export type UnaryOutcome =
  | { readonly requestId: string; readonly output: unknown; readonly error?: undefined }
  | { readonly requestId: string; readonly error: ConnectError };

/**
 * Runs one unary call through the steps the interceptors apply on Connect's path, in the same order
 * (outermost first): metrics, request log, error mapping, refusal, default deadline. `invoke` calls
 * the implementation; a refused call never reaches it.
 */
export async function runUnary(
  steps: UnarySteps,
  rpc: string,
  offeredRequestId: string | undefined,
  clientDeadline: boolean,
  refusal: ConnectError | undefined,
  invoke: () => unknown,
): Promise<UnaryOutcome> {
  const started = performance.now();
  const requestId = steps.requestLog.requestId(offeredRequestId);
  let output: unknown;
  try {
    try {
      if (refusal) throw refusal;
      const call = invoke();
      output = clientDeadline
        ? await call
        : await withDefaultDeadline(Promise.resolve(call), steps.defaultCallTimeoutMs);
    } catch (error) {
      throw steps.mapError(error);
    }
  } catch (mapped) {
    const error = steps.requestLog.failed(rpc, requestId, started, mapped);
    steps.metrics.recordCall(rpc, started, error);
    return { requestId, error };
  }
  steps.requestLog.succeeded(rpc, requestId, started);
  steps.metrics.recordCall(rpc, started, undefined);
  return { requestId, output };
}
