import { type Client, Code, ConnectError } from "@connectrpc/connect";
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

/** Attempts per device when the registry answers UNAVAILABLE or the deadline passes (safe to retry). */
const ATTEMPTS = 3;

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Failures a registration may be sent again after: registering is idempotent. */
export const retryable = (error: ConnectError) =>
  error.code === Code.Unavailable || error.code === Code.DeadlineExceeded;

/** A {@link BulkRegistrar} of single Register calls, `concurrency` in flight at once. */
export function registerOneByOne(
  registry: Client<typeof RegistryService>,
  options: { concurrency?: number; timeoutMs?: number } = {},
): BulkRegistrar {
  const concurrency = Math.max(1, options.concurrency ?? 32);
  return async (devices, { leaseId, gatewayNode, signal }) => {
    const outcomes: RegisterOutcome[] = new Array(devices.length);
    let next = 0;
    const worker = async () => {
      while (next < devices.length && !signal.aborted) {
        const i = next++;
        const device = devices[i]!;
        outcomes[i] = await registerWithRetry(
          registry,
          { ...device, gatewayNode, leaseId },
          signal,
          options.timeoutMs,
        );
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, devices.length) }, worker));
    for (let i = 0; i < devices.length; i += 1) {
      outcomes[i] ??= { ok: false, error: new ConnectError("registration abandoned", Code.Canceled) };
    }
    return outcomes;
  };
}

async function registerWithRetry(
  registry: Client<typeof RegistryService>,
  request: Device & { gatewayNode: string; leaseId: bigint },
  signal: AbortSignal,
  timeoutMs: number | undefined,
): Promise<RegisterOutcome> {
  let last: ConnectError | undefined;
  for (let attempt = 0; attempt < ATTEMPTS && !signal.aborted; attempt += 1) {
    try {
      const answer = await registry.register(request, { signal, ...(timeoutMs ? { timeoutMs } : {}) });
      return { ok: true, evicted: answer.evicted };
    } catch (error) {
      last = ConnectError.from(error);
      if (!retryable(last)) break;
      await sleep(50 * 2 ** attempt);
    }
  }
  return { ok: false, error: last ?? new ConnectError("registration abandoned", Code.Canceled) };
}
