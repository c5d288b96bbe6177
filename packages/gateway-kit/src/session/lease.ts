import { type CallOptions, type Client, Code, ConnectError } from "@connectrpc/connect";
import { sleep } from "@im-core/common";
import type { RegistryService } from "@im-core/proto/registry/v1";

export interface Lease {
  readonly id: bigint;
  readonly ttlSeconds: number;
}

/** Refusals that asking again cannot fix: they go to the caller of `open()` (or surface from a recovery). */
const final = new Set([Code.InvalidArgument, Code.PermissionDenied, Code.Unauthenticated]);

/**
 * A lease for `gatewayNode`, asked again with backoff (100 ms doubling up to 2 s) while the registry is
 * unreachable or fails, until it is granted or `options.signal` aborts; each failure goes to `onRetry`.
 */
export async function grantWithRetry(
  registry: Client<typeof RegistryService>,
  request: { gatewayNode: string; ttlSeconds: number },
  options: CallOptions & { signal: AbortSignal },
  onRetry: (failure: ConnectError) => void,
): Promise<Lease> {
  for (let attempt = 0; ; attempt += 1) {
    try {
      const answer = await registry.grantLease(request, options);
      return { id: answer.leaseId, ttlSeconds: answer.ttlSeconds };
    } catch (error) {
      if (options.signal.aborted)
        throw new ConnectError("gateway session is closed", Code.FailedPrecondition);
      const failure = ConnectError.from(error);
      if (final.has(failure.code)) throw failure;
      onRetry(failure);
      await sleep(Math.min(2_000, 100 * 2 ** attempt));
    }
  }
}
