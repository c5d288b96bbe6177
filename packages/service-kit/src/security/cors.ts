import type http from "node:http";
import type http2 from "node:http2";
import { cors as connectCors } from "@connectrpc/connect";

type Request = http.IncomingMessage | http2.Http2ServerRequest;
type Response = http.ServerResponse | http2.Http2ServerResponse;

const allowMethods = connectCors.allowedMethods.join(", ");
// Browsers send the bearer token in Authorization; everything else is Connect's own list.
const allowHeaders = [...connectCors.allowedHeaders, "Authorization", "X-Request-Id"].join(", ");
const exposeHeaders = [...connectCors.exposedHeaders, "X-Request-Id"].join(", ");

/**
 * CORS for an explicit allowlist of origins (`*` allows any). Answers preflights itself and returns
 * true for them; for other requests it only adds headers. A disallowed origin gets no CORS headers,
 * so the browser refuses to hand the response to the page.
 */
export function createCors(allowedOrigins: readonly string[]) {
  const anyOrigin = allowedOrigins.includes("*");
  const origins = new Set(allowedOrigins);
  return function applyCors(request: Request, response: Response): boolean {
    const origin = request.headers.origin;
    if (origin === undefined) {
      return false;
    }
    const allowed = anyOrigin || origins.has(origin);
    const isPreflight =
      request.method === "OPTIONS" && request.headers["access-control-request-method"] !== undefined;
    if (allowed) {
      response.setHeader("access-control-allow-origin", origin);
      response.setHeader("vary", "Origin");
      response.setHeader("access-control-expose-headers", exposeHeaders);
    }
    if (!isPreflight) {
      return false;
    }
    if (allowed) {
      response.setHeader("access-control-allow-methods", allowMethods);
      response.setHeader("access-control-allow-headers", allowHeaders);
      response.setHeader("access-control-max-age", "7200");
    }
    response.statusCode = allowed ? 204 : 403;
    response.end();
    return true;
  };
}
