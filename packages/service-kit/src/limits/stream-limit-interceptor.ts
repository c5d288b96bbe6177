import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { callerKey } from "../security/auth-interceptor.js";

export interface StreamLimits {
  /** Server-streaming calls open on the instance. */
  maxStreams: number;
  /** The same, per caller's token, so one stolen token cannot take every slot. */
  maxStreamsPerToken: number;
}

/**
 * Caps the server-streaming calls (Watch) open on this instance, in all and per token: one more answers
 * RESOURCE_EXHAUSTED at once instead of taking memory and a backend subscription.
 */
export function streamLimitInterceptor(limits: StreamLimits, onChange?: (open: number) => void): Interceptor {
  let open = 0;
  const perToken = new Map<string, number>();
  return (next) => async (request) => {
    if (request.method.methodKind !== "server_streaming" && request.method.methodKind !== "bidi_streaming") {
      return next(request);
    }
    const token = request.contextValues.get(callerKey)?.tokenId;
    if (open >= limits.maxStreams) {
      throw new ConnectError(
        `too many open streams on this instance (limit ${limits.maxStreams}); retry later or on another instance`,
        Code.ResourceExhausted,
      );
    }
    if (token !== undefined && (perToken.get(token) ?? 0) >= limits.maxStreamsPerToken) {
      throw new ConnectError(
        `too many open streams for this token (limit ${limits.maxStreamsPerToken}); close one first`,
        Code.ResourceExhausted,
      );
    }
    open++;
    if (token !== undefined) perToken.set(token, (perToken.get(token) ?? 0) + 1);
    onChange?.(open);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      open--;
      if (token !== undefined) {
        const left = (perToken.get(token) ?? 1) - 1;
        if (left > 0) perToken.set(token, left);
        else perToken.delete(token);
      }
      onChange?.(open);
    };
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
