import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { withDeadline } from "@im-core/common";

const clientDeadlineHeaders = ["grpc-timeout", "connect-timeout-ms"];

const exceeded = () =>
  new ConnectError("the call exceeded the server's default deadline", Code.DeadlineExceeded);

/**
 * Unary calls whose client set no deadline get `defaultTimeoutMs`: the caller is answered
 * DEADLINE_EXCEEDED then, even if a backend hangs. Calls with a client deadline are left to Connect,
 * which aborts the handler's signal at that deadline (our handlers pass it to every backend call).
 */
export function deadlineInterceptor(defaultTimeoutMs: number): Interceptor {
  return (next) => async (request) => {
    if (request.stream || clientDeadlineHeaders.some((name) => request.header.has(name))) {
      return next(request);
    }
    return withDeadline(next(request), defaultTimeoutMs, exceeded);
  };
}
