/**
 * Errors every store throws, whatever backend it wraps. Services never see a driver's own errors:
 * they map these kinds to RPC codes in one place (service-kit's error mapping).
 */
export type StoreErrorKind =
  /** The backend could not be reached or did not answer in time; nothing was changed. Retry is safe. */
  | "unavailable"
  /** The thing named (a lease, a key) does not exist. */
  | "not_found"
  /** A limit of the stored data was reached (device limit, sequence space). */
  | "exhausted"
  /** The request conflicts with the stored state (e.g. a history that was compacted away). */
  | "out_of_range"
  /** The stored state cannot satisfy the request as it stands. */
  | "failed_precondition";

export class StoreError extends Error {
  override readonly name = "StoreError";

  constructor(
    readonly kind: StoreErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function isStoreError(error: unknown, kind?: StoreErrorKind): error is StoreError {
  return error instanceof StoreError && (kind === undefined || error.kind === kind);
}
