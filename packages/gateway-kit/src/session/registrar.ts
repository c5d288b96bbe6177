import { type Client, Code, ConnectError } from "@connectrpc/connect";
import { sleep } from "@im-core/common";
import type { DeviceLocation, RegistryService } from "@im-core/proto/registry/v1";

/** One device this gateway holds. */
export interface Device {
  readonly userId: string;
  readonly deviceId: string;
}

/** What registering one device on the lease came to. */
export type RegisterOutcome =
  | { readonly ok: true; readonly evicted: readonly DeviceLocation[] }
  | { readonly ok: false; readonly error: ConnectError };

/**
 * Registers many devices on one lease, answering one outcome per device in order: BatchRegister calls
 * ({@link registerInBatches}, the default) or single Register calls ({@link registerOneByOne}).
 */
export type BulkRegistrar = (
  devices: readonly Device[],
  context: { readonly leaseId: bigint; readonly gatewayNode: string; readonly signal: AbortSignal },
) => Promise<RegisterOutcome[]>;

/** Attempts per call when the registry answers UNAVAILABLE or the deadline passes (safe to retry). */
const ATTEMPTS = 3;

/** Failures a registration may be sent again after: registering is idempotent. */
export const retryable = (error: ConnectError) =>
  error.code === Code.Unavailable || error.code === Code.DeadlineExceeded;

/**
 * `call`, sent again after a {@link retryable} failure (50 ms, then 100 ms later), at most 3 times and
 * not once `signal` aborted: its answer, or the last failure.
 */
export async function withRetries<T>(
  signal: AbortSignal,
  call: () => Promise<T>,
): Promise<{ ok: true; value: T } | { ok: false; error: ConnectError }> {
  let error = new ConnectError("registration abandoned", Code.Canceled);
  for (let attempt = 0; attempt < ATTEMPTS && !signal.aborted; attempt += 1) {
    try {
      return { ok: true, value: await call() };
    } catch (failure) {
      error = ConnectError.from(failure);
      if (!retryable(error)) break;
      await sleep(50 * 2 ** attempt);
    }
  }
  return { ok: false, error };
}

/** Runs `work(i)` for every i below `count`, at most `concurrency` at once, none started once `signal` aborts. */
export async function inPool(
  count: number,
  concurrency: number,
  work: (i: number) => Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count && !signal?.aborted) await work(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

/** A {@link BulkRegistrar} of single Register calls, `concurrency` in flight at once. */
export function registerOneByOne(
  registry: Client<typeof RegistryService>,
  options: { concurrency?: number; timeoutMs?: number } = {},
): BulkRegistrar {
  const concurrency = Math.max(1, options.concurrency ?? 32);
  const callOptions = (signal: AbortSignal) => ({
    signal,
    ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
  });
  return async (devices, { leaseId, gatewayNode, signal }) => {
    const outcomes: RegisterOutcome[] = new Array(devices.length);
    await inPool(
      devices.length,
      concurrency,
      async (i) => {
        const request = { ...devices[i]!, gatewayNode, leaseId };
        const answer = await withRetries(signal, () => registry.register(request, callOptions(signal)));
        outcomes[i] = answer.ok ? { ok: true, evicted: answer.value.evicted } : answer;
      },
      signal,
    );
    for (let i = 0; i < devices.length; i += 1) {
      outcomes[i] ??= { ok: false, error: new ConnectError("registration abandoned", Code.Canceled) };
    }
    return outcomes;
  };
}
