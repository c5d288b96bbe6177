import { Code, ConnectError } from "@connectrpc/connect";

export type ServiceName = "registry" | "sequence";

/** An error as an operator reads it: what happened, and what to do about it. */
export interface ReadableError {
  /** Which kind, for styling and tests: `unauthenticated`, `unreachable`, … */
  kind:
    | "unauthenticated"
    | "permission"
    | "unreachable"
    | "out-of-range"
    | "invalid"
    | "unavailable"
    | "other";
  title: string;
  detail: string;
}

/**
 * A browser cannot tell a refused connection from a CORS refusal: both reject `fetch` with a TypeError,
 * which Connect reports as UNKNOWN without any HTTP status. Its message differs per browser.
 */
function isNetworkFailure(error: ConnectError): boolean {
  return (
    error.code === Code.Unknown &&
    /failed to fetch|network ?error|load failed|fetch failed|network connection was lost/i.test(
      error.rawMessage,
    )
  );
}

export function describeError(reason: unknown, service: ServiceName, url: string): ReadableError {
  const error = ConnectError.from(reason);
  const server = `the ${service} service (${url})`;
  if (isNetworkFailure(error)) {
    return {
      kind: "unreachable",
      title: `Cannot reach ${server}`,
      detail: `The service is down, the URL is wrong, or it does not allow this console's origin (${location.origin}) in CORS_ALLOWED_ORIGINS.`,
    };
  }
  switch (error.code) {
    case Code.Unauthenticated:
      return {
        kind: "unauthenticated",
        title: `The token was refused by ${server}`,
        detail: "It is missing, mistyped, expired or revoked. Sign in again with a current admin token.",
      };
    case Code.PermissionDenied:
      return {
        kind: "permission",
        title: `Permission denied by ${server}`,
        detail: `This token's role may not do this (${error.rawMessage}). Admin tools need an admin token.`,
      };
    case Code.OutOfRange:
      return {
        kind: "out-of-range",
        title: "The requested revision is no longer available",
        detail: `etcd has compacted its history past it (${error.rawMessage}). Look the users up again and watch from the revision shown.`,
      };
    case Code.InvalidArgument:
      return { kind: "invalid", title: "The request was refused as invalid", detail: error.rawMessage };
    case Code.Unavailable:
    case Code.DeadlineExceeded:
    case Code.ResourceExhausted:
      return {
        kind: "unavailable",
        title: `${capitalize(service)} service is unavailable for now`,
        detail: `${error.rawMessage} (${Code[error.code]}). It is safe to retry.`,
      };
    default:
      return {
        kind: "other",
        title: `${capitalize(service)} service answered ${Code[error.code]}`,
        detail: error.rawMessage,
      };
  }
}

const capitalize = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);

/**
 * Whether an operator's query is retried at once: only a service that answered "unavailable". Not a
 * browser's network failure: the retry would hide "cannot reach" for seconds and rarely help.
 */
export function isWorthRetrying(reason: unknown): boolean {
  const code = ConnectError.from(reason).code;
  return code === Code.Unavailable || code === Code.DeadlineExceeded;
}

/**
 * Errors a long-lived stream must not retry: the same request would be refused again. Anything else (a
 * dropped connection, a cut-off body, a draining instance) is an interruption to resume from.
 */
export function isPermanent(reason: unknown): boolean {
  const code = ConnectError.from(reason).code;
  return [
    Code.Unauthenticated,
    Code.PermissionDenied,
    Code.OutOfRange,
    Code.InvalidArgument,
    Code.Unimplemented,
  ].includes(code);
}
