import { type Client, Code, ConnectError } from "@connectrpc/connect";
import type { RegistryService } from "@im-core/proto/registry/v1";
import {
  type BulkRegistrar,
  type Device,
  type RegisterOutcome,
  registerOneByOne,
  retryable,
  sleep,
} from "./registrar.js";

/** The registry's limit on devices per BatchRegister. */
export const MAX_BATCH_DEVICES = 1_000;

export interface BatchRegistrarOptions {
  /** Devices per BatchRegister, 1 to 1,000. Default 1,000. */
  batchSize?: number;
  /** BatchRegister calls in flight at once. Default 2: the registry's etcd txns, not the wire, bound it. */
  concurrency?: number;
  /** Deadline of each call. */
  timeoutMs?: number;
}

/** Attempts per batch when the registry answers UNAVAILABLE or the deadline passes (BatchRegister is idempotent). */
const ATTEMPTS = 3;

/**
 * A {@link BulkRegistrar} of BatchRegister calls: up to 1,000 devices per call, one outcome per device.
 * A registry without BatchRegister (UNIMPLEMENTED) gets single Register calls instead.
 */
export function registerInBatches(
  registry: Client<typeof RegistryService>,
  options: BatchRegistrarOptions = {},
): BulkRegistrar {
  const size = Math.min(MAX_BATCH_DEVICES, Math.max(1, options.batchSize ?? MAX_BATCH_DEVICES));
  const concurrency = Math.max(1, options.concurrency ?? 2);
  const oneByOne = registerOneByOne(registry, { timeoutMs: options.timeoutMs });
  let unimplemented = false;
  return async (devices, context) => {
    if (unimplemented) return oneByOne(devices, context);
    const batches: (readonly Device[])[] = [];
    for (let i = 0; i < devices.length; i += size) batches.push(devices.slice(i, i + size));
    const answers: RegisterOutcome[][] = new Array(batches.length);
    let next = 0;
    const worker = async () => {
      while (next < batches.length) {
        const i = next++;
        answers[i] = await registerBatch(registry, batches[i]!, context, options.timeoutMs);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, batches.length) }, worker));
    const outcomes = answers.flat();
    if (outcomes.some((o) => !o.ok && o.error.code === Code.Unimplemented)) {
      unimplemented = true;
      return oneByOne(devices, context);
    }
    return outcomes;
  };
}

async function registerBatch(
  registry: Client<typeof RegistryService>,
  devices: readonly Device[],
  { leaseId, gatewayNode, signal }: Parameters<BulkRegistrar>[1],
  timeoutMs: number | undefined,
): Promise<RegisterOutcome[]> {
  let failure = new ConnectError("registration abandoned", Code.Canceled);
  for (let attempt = 0; attempt < ATTEMPTS && !signal.aborted; attempt += 1) {
    try {
      const answer = await registry.batchRegister(
        { gatewayNode, leaseId, devices: devices.map(({ userId, deviceId }) => ({ userId, deviceId })) },
        { signal, ...(timeoutMs ? { timeoutMs } : {}) },
      );
      return answer.results.map((result) =>
        result.code === 0
          ? { ok: true, evicted: result.evicted }
          : { ok: false, error: new ConnectError(result.message, result.code as Code) },
      );
    } catch (error) {
      failure = ConnectError.from(error);
      if (!retryable(failure)) break;
      await sleep(50 * 2 ** attempt);
    }
  }
  // The whole call failed (lease not found, unreachable, refused): every device shares its answer. A
  // call refused as a whole for its size or rate says nothing of the device limit: retryable, not a
  // per-device RESOURCE_EXHAUSTED (which a recovery reads as "rejected by the device limit").
  const shared =
    failure.code === Code.ResourceExhausted
      ? new ConnectError(`the registry refused the call as a whole: ${failure.rawMessage}`, Code.Unavailable)
      : failure;
  return devices.map(() => ({ ok: false, error: shared }));
}
