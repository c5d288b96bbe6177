import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { isStoreError, type StoreErrorKind } from "@im-core/common";

const codeOfStoreError: Record<StoreErrorKind, Code> = {
  unavailable: Code.Unavailable,
  not_found: Code.NotFound,
  exhausted: Code.ResourceExhausted,
  out_of_range: Code.OutOfRange,
  failed_precondition: Code.FailedPrecondition,
};

/**
 * The one place where failures become RPC codes: store errors keep their meaning, aborts become
 * DEADLINE_EXCEEDED or CANCELED, and anything unexpected becomes INTERNAL without leaking details.
 */
export function toConnectError(error: unknown): ConnectError {
  if (error instanceof ConnectError) {
    return error;
  }
  if (isStoreError(error)) {
    return new ConnectError(error.message, codeOfStoreError[error.kind], undefined, undefined, error);
  }
  if (error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError")) {
    const code = error.name === "TimeoutError" ? Code.DeadlineExceeded : Code.Canceled;
    return new ConnectError(error.message, code, undefined, undefined, error);
  }
  return new ConnectError("internal error", Code.Internal, undefined, undefined, error);
}

/** {@link toConnectError}, with `observe` seeing every original error first (metrics count store errors). */
export function errorMapper(observe: (error: unknown) => void = () => {}): (error: unknown) => ConnectError {
  return (error) => {
    observe(error);
    return toConnectError(error);
  };
}

/** Applies an {@link errorMapper} to unary results and to errors raised while a stream runs. */
export function errorMappingInterceptor(map: (error: unknown) => ConnectError = errorMapper()): Interceptor {
  async function* mapStreamErrors<T>(messages: AsyncIterable<T>): AsyncIterable<T> {
    try {
      yield* messages;
    } catch (error) {
      throw map(error);
    }
  }
  return (next) => async (request) => {
    try {
      const response = await next(request);
      if (response.stream) {
        return { ...response, message: mapStreamErrors(response.message) };
      }
      return response;
    } catch (error) {
      throw map(error);
    }
  };
}
