import type { DescMethod } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextKey, type Interceptor } from "@connectrpc/connect";
import type { Caller, Role, TokenTable } from "./tokens.js";

/** Which roles may call each method, by the method's local name (e.g. "Register"); absent = nobody. */
export type AccessPolicy = Readonly<Record<string, readonly Role[]>>;

export function bearerToken(authorization: string | null | undefined): string | undefined {
  const match = authorization == null ? null : /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  return match?.[1];
}

/**
 * Who is calling: the token's caller, or the refusal the call gets (UNAUTHENTICATED without a known bearer
 * token, PERMISSION_DENIED when the token's role may not call the method). Methods of `openServices` (the
 * gRPC health service, like /healthz) need no token and have no caller. Decided from the request's headers
 * alone, before its body is read.
 */
export function authenticate(
  tokens: TokenTable,
  policy: AccessPolicy,
  openServices: ReadonlySet<string>,
  method: DescMethod,
  authorization: string | undefined,
): { caller: Caller } | { refusal: ConnectError } | undefined {
  if (openServices.has(method.parent.typeName)) return undefined;
  const token = bearerToken(authorization);
  if (token === undefined) {
    return {
      refusal: new ConnectError(
        'missing bearer token: send "Authorization: Bearer <token>"',
        Code.Unauthenticated,
      ),
    };
  }
  const caller = tokens.callerOf(token);
  if (caller === undefined)
    return { refusal: new ConnectError("unknown bearer token", Code.Unauthenticated) };
  if (!(policy[method.name]?.includes(caller.role) ?? false)) {
    return {
      refusal: new ConnectError(`role "${caller.role}" may not call ${method.name}`, Code.PermissionDenied),
    };
  }
  return { caller };
}

/** The refusal decided for a call before its body was read (see server/rpc-handler.ts). */
export const refusalKey = createContextKey<ConnectError | undefined>(undefined, { description: "refusal" });

/** Who is calling (undefined when auth is off, or for an open service): handlers read it from their context. */
export const callerKey = createContextKey<Caller | undefined>(undefined, { description: "caller" });

/**
 * Fails a refused call where the interceptors run, so it is logged, counted and answered in its protocol
 * like any other failure, and before any handler: a refused call changes nothing.
 */
export function refusalInterceptor(): Interceptor {
  return (next) => async (request) => {
    const refusal = request.contextValues.get(refusalKey);
    if (refusal) throw refusal;
    return next(request);
  };
}
