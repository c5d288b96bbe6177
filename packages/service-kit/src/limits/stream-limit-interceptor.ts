import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";

/**
 * Caps the server-streaming calls open on this instance (Watch): one more answers
 * RESOURCE_EXHAUSTED at once instead of taking memory and a backend subscription.
 */
export function streamLimitInterceptor(maxStreams: number, onChange?: (open: number) => void): Interceptor {
  let open = 0;
  const release = () => {
    open--;
    onChange?.(open);
  };
  return (next) => async (request) => {
    if (request.method.methodKind !== "server_streaming" && request.method.methodKind !== "bidi_streaming") {
      return next(request);
    }
    if (open >= maxStreams) {
      throw new ConnectError(
        `too many open streams on this instance (limit ${maxStreams}); retry later or on another instance`,
        Code.ResourceExhausted,
      );
    }
    open++;
    onChange?.(open);
    let response: Awaited<ReturnType<typeof next>>;
    try {
      response = await next(request);
    } catch (error) {
      release();
      throw error;
    }
    if (!response.stream) {
      release();
      return response;
    }
    const messages = response.message;
    return {
      ...response,
      message: (async function* () {
        try {
          yield* messages;
        } finally {
          release();
        }
      })(),
    };
  };
}
