import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import type { Role, TokenTable } from "./tokens.js";

/** Which roles may call each method, by the method's local name (e.g. "Register"); absent = nobody. */
export type AccessPolicy = Readonly<Record<string, readonly Role[]>>;

export function bearerToken(authorization: string | null): string | undefined {
  const match = authorization === null ? null : /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  return match?.[1];
}

/**
 * UNAUTHENTICATED without a known bearer token, PERMISSION_DENIED when the token's role may not
 * call the method. Runs before any handler, so a refused call changes nothing. Services in
 * `openServices` (the gRPC health service, like /healthz) need no token.
 */
export function authInterceptor(
  tokens: TokenTable,
  policy: AccessPolicy,
  openServices: readonly DescService[] = [],
): Interceptor {
  const allowed = (method: DescMethod, role: Role) => policy[method.name]?.includes(role) ?? false;
  const open = new Set(openServices.map((service) => service.typeName));
  return (next) => async (request) => {
    if (open.has(request.service.typeName)) {
      return next(request);
    }
    const token = bearerToken(request.header.get("authorization"));
    if (token === undefined) {
      throw new ConnectError(
        'missing bearer token: send "Authorization: Bearer <token>"',
        Code.Unauthenticated,
      );
    }
    const role = tokens.roleOf(token);
    if (role === undefined) {
      throw new ConnectError("unknown bearer token", Code.Unauthenticated);
    }
    if (!allowed(request.method, role)) {
      throw new ConnectError(`role "${role}" may not call ${request.method.name}`, Code.PermissionDenied);
    }
    return next(request);
  };
}
