import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";

const clientDeadlineHeaders = ["grpc-timeout", "connect-timeout-ms"];

/**
 * Unary calls whose client set no deadline get `defaultTimeoutMs`: the caller is answered
 * DEADLINE_EXCEEDED then, even if a backend hangs. Calls with a client deadline are left to Connect,
 * which aborts the handler's signal at that deadline (our handlers pass it to every backend call).
 * One plain timer per call: this sits on every request's path.
 */
export function deadlineInterceptor(defaultTimeoutMs: number): Interceptor {
  return (next) => async (request) => {
    if (request.stream || clientDeadlineHeaders.some((name) => request.header.has(name))) {
      return next(request);
    }
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(new ConnectError("the call exceeded the server's default deadline", Code.DeadlineExceeded)),
        defaultTimeoutMs,
      );
    });
    try {
      return await Promise.race([next(request), expired]);
    } finally {
      clearTimeout(timer);
    }
  };
}
