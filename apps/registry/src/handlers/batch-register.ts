import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import {
  type BatchRegisterRequest,
  type BatchRegisterResponse,
  BatchRegisterResponseSchema,
  type BatchRegisterResult,
  BatchRegisterResultSchema,
} from "@im-core/proto";
import { callerKey, invalidArgument } from "@im-core/service-kit";
import { requireActsFor, requireOwnLease } from "../access.js";
import { type BatchDevice, registerBatch } from "../devices/batch.js";
import { toLocation, toLocations } from "./convert.js";
import type { RegistryDeps } from "./index.js";
import { requireLeaseId, validateId } from "./validate.js";

/** Most devices in one BatchRegister: bounds the work (and etcd txns) of one call. */
export const MAX_DEVICES_PER_BATCH = 1_000;

export function batchRegisterHandlers({ store, registrar, mirror }: RegistryDeps) {
  return {
    async batchRegister(
      request: BatchRegisterRequest,
      context: HandlerContext,
    ): Promise<BatchRegisterResponse> {
      validateId("gateway_node", request.gatewayNode);
      const leaseId = requireLeaseId(request.leaseId);
      const count = request.devices.length;
      if (count === 0 || count > MAX_DEVICES_PER_BATCH) {
        throw invalidArgument("devices", `1 to ${MAX_DEVICES_PER_BATCH} devices, got ${count}`);
      }
      const caller = context.values.get(callerKey);
      requireActsFor(caller, request.gatewayNode, "gateway_node");
      // One budget for the whole call (lease check, reads, every txn), as for Register.
      const options = { signal: context.signal, until: Date.now() + store.callTimeoutMs };
      const grant = await store.grantOf(leaseId, options);
      requireOwnLease(caller, leaseId, grant);

      // A bad or repeated device is answered on its own; the rest of the batch still registers.
      const results: BatchRegisterResult[] = new Array(count);
      const valid: BatchDevice[] = [];
      const seen = new Map<string, number>();
      request.devices.forEach((device, index) => {
        const refusal = checkDevice(device, index, seen);
        if (refusal) results[index] = failed(Code.InvalidArgument, refusal);
        else valid.push({ index, userId: device.userId, deviceId: device.deviceId });
      });

      let revision = mirror.revision;
      if (valid.length > 0) {
        const users = [...new Set(valid.map((d) => d.userId))];
        const done = await registerBatch(
          store,
          registrar.rules,
          { gatewayNode: request.gatewayNode, leaseId, devices: valid, hint: mirror.lookup(users, 0) },
          options,
        );
        for (const { index, outcome, entry } of done.results) {
          results[index] = outcome.ok
            ? create(BatchRegisterResultSchema, {
                location: toLocation(entry ?? outcome.kept!),
                evicted: toLocations(outcome.evicted),
              })
            : failed(outcome.code, outcome.message);
        }
        if (done.revision > 0) {
          mirror.noteWrite(done.revision, users);
          revision = done.revision;
        }
      }
      return create(BatchRegisterResponseSchema, {
        results,
        ttlSeconds: grant.ttlSeconds,
        revision: BigInt(revision),
      });
    },
  };
}

/** Why `devices[index]` cannot be registered, or undefined; records its key so a repeat is caught. */
function checkDevice(
  device: { userId: string; deviceId: string },
  index: number,
  seen: Map<string, number>,
): string | undefined {
  for (const [field, value] of [
    ["user_id", device.userId],
    ["device_id", device.deviceId],
  ] as const) {
    try {
      validateId(`devices[${index}].${field}`, value);
    } catch (error) {
      return ConnectError.from(error).rawMessage;
    }
  }
  const key = `${device.userId}\u0000${device.deviceId}`;
  const first = seen.get(key);
  if (first !== undefined) return `devices[${index}]: the same device as devices[${first}]`;
  seen.set(key, index);
  return undefined;
}

function failed(code: Code, message: string): BatchRegisterResult {
  return create(BatchRegisterResultSchema, { code, message });
}
