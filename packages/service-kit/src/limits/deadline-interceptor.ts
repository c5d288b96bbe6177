import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";

const clientDeadlineHeaders = ["grpc-timeout", "connect-timeout-ms"];

/**
 * Unary calls answer DEADLINE_EXCEEDED at their deadline even if a backend hangs: the client's own
 * deadline, or `defaultTimeoutMs` when it set none. (Connect aborts the handler's signal at the
 * client's deadline but still waits for the handler; this makes the answer independent of it.)
 */
export function deadlineInterceptor(defaultTimeoutMs: number): Interceptor {
  return (next) => async (request) => {
    if (request.stream) {
      return next(request);
    }
    const clientDeadline = clientDeadlineHeaders.some((name) => request.header.has(name));
    const deadline = clientDeadline
      ? request.signal
      : AbortSignal.any([request.signal, AbortSignal.timeout(defaultTimeoutMs)]);
    if (deadline.aborted) {
      throw expired(deadline);
    }
    let onAbort: (() => void) | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      onAbort = () => reject(expired(deadline));
      deadline.addEventListener("abort", onAbort, { once: true });
    });
    try {
      return await Promise.race([next(request), timedOut]);
    } finally {
      deadline.removeEventListener("abort", onAbort!);
    }
  };
}

function expired(signal: AbortSignal): ConnectError {
  const reason: unknown = signal.reason;
  if (reason instanceof ConnectError) return reason;
  if (reason instanceof Error && reason.name === "TimeoutError") {
    return new ConnectError("the call exceeded the server's default deadline", Code.DeadlineExceeded);
  }
  return new ConnectError("the call was canceled", Code.Canceled);
}
