import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import type { RegisterRequest, UnregisterRequest } from "@im-core/proto";
import { callerKey } from "@im-core/service-kit";
import { requireActsFor } from "../access.js";
import { toLocations } from "./convert.js";
import type { RegistryDeps } from "./index.js";
import { optionalLeaseId, validateId } from "./validate.js";

export function deviceHandlers({ store, registrar, mirror }: RegistryDeps) {
  return {
    async register(request: RegisterRequest, context: HandlerContext) {
      validateId("user_id", request.userId);
      validateId("device_id", request.deviceId);
      validateId("gateway_node", request.gatewayNode);
      const leaseId = optionalLeaseId(request.leaseId);
      const caller = context.values.get(callerKey);
      requireActsFor(caller, request.gatewayNode, "gateway_node");
      // The user's devices as the mirror knows them spare the first decision its etcd read. Any live
      // revision will do: the write's condition catches a change since then, so a stale hint only costs
      // another round.
      const result = await registrar.register(
        {
          userId: request.userId,
          deviceId: request.deviceId,
          gatewayNode: request.gatewayNode,
          leaseId,
          hint: mirror.lookup([request.userId], 0),
          caller,
        },
        { signal: context.signal },
      );
      mirror.noteWrite(result.revision, [request.userId]);
      return {
        leaseId: result.leaseId,
        ttlSeconds: result.ttlSeconds,
        connectedAt: timestampFromMs(result.connectedAtMs),
        evicted: toLocations(result.evicted),
      };
    },

    async unregister(request: UnregisterRequest, context: HandlerContext) {
      validateId("user_id", request.userId);
      validateId("device_id", request.deviceId);
      if (request.gatewayNode !== "") validateId("gateway_node", request.gatewayNode);
      const caller = context.values.get(callerKey);
      if (caller?.gatewayNodes instanceof Set) {
        // Without gateway_node the device would go wherever it is connected, another gateway's included.
        if (request.gatewayNode === "") {
          throw new ConnectError(
            "gateway_node: must be set: this token acts only for its own gateway nodes",
            Code.PermissionDenied,
          );
        }
        requireActsFor(caller, request.gatewayNode, "gateway_node");
      }
      const result = await store.unregister(
        {
          userId: request.userId,
          deviceId: request.deviceId,
          ...(request.gatewayNode ? { gatewayNode: request.gatewayNode } : {}),
        },
        { signal: context.signal },
      );
      if (result.revision !== undefined) mirror.noteWrite(result.revision, [request.userId]);
      return { removed: result.removed };
    },
  };
}
