import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { withDeadline } from "@im-core/common";

const exceeded = () =>
  new ConnectError("the call exceeded the server's default deadline", Code.DeadlineExceeded);

/** Whether the client set a deadline (`grpc-timeout`, `connect-timeout-ms`), which Connect enforces. */
export function hasClientDeadline(header: { has(name: string): boolean }): boolean {
  return header.has("grpc-timeout") || header.has("connect-timeout-ms");
}

/**
 * A unary call whose client set no deadline gets `defaultTimeoutMs`: the caller is answered
 * DEADLINE_EXCEEDED then, even if a backend hangs.
 */
export function withDefaultDeadline<T>(call: Promise<T>, defaultTimeoutMs: number): Promise<T> {
  return withDeadline(call, defaultTimeoutMs, exceeded);
}

/**
 * {@link withDefaultDeadline} for Connect's calls. Calls with a client deadline are left to Connect,
 * which aborts the handler's signal at that deadline (our handlers pass it to every backend call).
 */
export function deadlineInterceptor(defaultTimeoutMs: number): Interceptor {
  return (next) => async (request) => {
    if (request.stream || hasClientDeadline(request.header)) return next(request);
    return withDefaultDeadline(next(request), defaultTimeoutMs);
  };
}
