import { invalidArgument, validateId } from "@im-core/service-kit";

/** Most user IDs in one BatchLookup or Watch. */
export const MAX_USERS_PER_CALL = 1_000;
/** Longest lease a gateway may ask for: one day. */
export const MAX_TTL_SECONDS = 86_400;

export function requireLeaseId(leaseId: bigint, field = "lease_id"): bigint {
  if (leaseId <= 0n)
    throw invalidArgument(field, "must be a lease id from GrantLease or Register (a positive number)");
  return leaseId;
}

/** A lease id that may be 0 (meaning "grant one"), but never negative. */
export function optionalLeaseId(leaseId: bigint): bigint | undefined {
  return leaseId === 0n ? undefined : requireLeaseId(leaseId);
}

export function requireTtl(ttlSeconds: number): number {
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 0 || ttlSeconds > MAX_TTL_SECONDS) {
    throw invalidArgument(
      "ttl_seconds",
      `must be between 0 (service default) and ${MAX_TTL_SECONDS}, got ${ttlSeconds}`,
    );
  }
  return ttlSeconds;
}

/** Checks a list of user IDs (at most 1,000), answering them without duplicates. */
export function requireUserIds(userIds: readonly string[], field = "user_ids"): readonly string[] {
  if (userIds.length > MAX_USERS_PER_CALL) {
    throw invalidArgument(field, `at most ${MAX_USERS_PER_CALL} entries, got ${userIds.length}`);
  }
  for (let i = 0; i < userIds.length; i++) {
    const id = userIds[i]!;
    try {
      validateId(field, id);
    } catch {
      // Named with its index only when it fails, so a valid list builds no field names.
      validateId(`${field}[${i}]`, id);
    }
  }
  return userIds.length === 1 ? userIds : [...new Set(userIds)];
}

export function requireRevision(revision: bigint, field: string): number {
  if (revision < 0n || revision > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw invalidArgument(field, `must be between 0 and ${Number.MAX_SAFE_INTEGER}, got ${revision}`);
  }
  return Number(revision);
}

export { validateId };
