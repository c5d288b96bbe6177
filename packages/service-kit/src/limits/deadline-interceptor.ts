import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { Deadlines } from "./deadlines.js";

/**
 * Whether the client set a deadline in its protocol's header (`grpc-timeout` for gRPC and gRPC-Web,
 * `connect-timeout-ms` for Connect), which Connect enforces. The other protocol's header is ignored by
 * Connect, so it must not spare a call the default deadline either.
 */
export function hasClientDeadline(header: { get(name: string): string | null }): boolean {
  const grpc = header.get("content-type")?.startsWith("application/grpc") ?? false;
  return header.get(grpc ? "grpc-timeout" : "connect-timeout-ms") !== null;
}

/** A call past its default deadline: told to answer DEADLINE_EXCEEDED (its work goes on, ignored). */
export interface OverdueCall {
  expire(error: ConnectError): void;
}

/**
 * DEFAULT_CALL_TIMEOUT_MS for unary calls whose client set no deadline: the caller is answered
 * DEADLINE_EXCEEDED then, even if a backend hangs. One timer for every pending call (see Deadlines).
 * Both request paths use it: the lean path tracks its calls, Connect's through the interceptor below.
 */
export class DefaultCallDeadline {
  readonly #deadlines: Deadlines<OverdueCall>;

  constructor(timeoutMs: number) {
    this.#deadlines = new Deadlines(timeoutMs, (call) =>
      call.expire(new ConnectError("the call exceeded the server's default deadline", Code.DeadlineExceeded)),
    );
  }

  track(call: OverdueCall): void {
    this.#deadlines.track(call);
  }

  forget(call: OverdueCall): void {
    this.#deadlines.forget(call);
  }

  /** Settles as `work` does, or rejects at the deadline. */
  race<T>(work: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const call: OverdueCall = { expire: reject };
      this.track(call);
      work.then(
        (value) => {
          this.forget(call);
          resolve(value);
        },
        (error: unknown) => {
          this.forget(call);
          reject(error);
        },
      );
    });
  }
}

/**
 * {@link DefaultCallDeadline} for Connect's calls. Calls with a client deadline are left to Connect,
 * which aborts the handler's signal at that deadline (our handlers pass it to every backend call).
 */
export function deadlineInterceptor(deadline: DefaultCallDeadline): Interceptor {
  return (next) => async (request) => {
    if (request.stream || hasClientDeadline(request.header)) return next(request);
    return deadline.race(next(request));
  };
}
