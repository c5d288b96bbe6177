import { type Client, Code, ConnectError } from "@connectrpc/connect";
import type { RegistryService } from "@im-core/proto/registry/v1";
import {
  type BulkRegistrar,
  type Device,
  inPool,
  type RegisterOutcome,
  registerOneByOne,
  withRetries,
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
    await inPool(batches.length, concurrency, async (i) => {
      answers[i] = await registerBatch(registry, batches[i]!, context, options.timeoutMs);
    });
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
  const request = {
    gatewayNode,
    leaseId,
    devices: devices.map(({ userId, deviceId }) => ({ userId, deviceId })),
  };
  const answer = await withRetries(signal, () =>
    registry.batchRegister(request, { signal, ...(timeoutMs ? { timeoutMs } : {}) }),
  );
  if (answer.ok) {
    return answer.value.results.map((result) =>
      result.code === 0
        ? { ok: true, evicted: result.evicted }
        : { ok: false, error: new ConnectError(result.message, result.code as Code) },
    );
  }
  // The whole call failed (lease not found, unreachable, refused): every device shares its answer. A
  // call refused as a whole for its size or rate says nothing of the device limit: retryable, not a
  // per-device RESOURCE_EXHAUSTED (which a recovery reads as "rejected by the device limit").
  const failure = answer.error;
  const shared =
    failure.code === Code.ResourceExhausted
      ? new ConnectError(`the registry refused the call as a whole: ${failure.rawMessage}`, Code.Unavailable)
      : failure;
  return devices.map(() => ({ ok: false, error: shared }));
}
