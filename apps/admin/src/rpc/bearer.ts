import type { Interceptor } from "@connectrpc/connect";

/** Sends `token` as the bearer token of every call (the services' auth; admin tools need an admin role). */
export function bearer(token: string): Interceptor {
  return (next) => (request) => {
    request.header.set("authorization", `Bearer ${token}`);
    return next(request);
  };
}
