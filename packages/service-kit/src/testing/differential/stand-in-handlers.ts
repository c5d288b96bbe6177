import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { StoreError, type StoreErrorKind } from "@im-core/common";
import {
  ConversationType,
  DeviceLocationSchema,
  type RegistryService,
  SequenceRangeSchema,
  type SequenceService,
} from "@im-core/proto";
import { callerKey } from "../../security/auth-interceptor.js";

/**
 * Deterministic stand-in handlers for both services, steered by a "directive" string taken from the
 * request (a user id, a gateway node, a group id, a page token; int64-only requests name a directive by
 * its index in {@link DIRECTIVES}). Every answer depends only on the request and the caller, so two
 * servers given the same request must answer the same bytes:
 *
 * - `ok-<tag>`: a small answer; `big`: an answer well over 1 KiB (response compression kicks in);
 *   `empty`: the empty message; `headers`: sets a response header and a trailer too
 * - `err-<code>`: ConnectError of that code, with metadata; `details-<code>`: the same with two details
 * - `store-<kind>`: StoreError of that kind; `bug`: a plain Error; `timeout-error` / `abort-error`: the
 *   DOMExceptions an aborted backend call throws
 * - `slow-<ms>`: waits, honouring `context.signal` (rejects with its reason when it aborts)
 */
export const DIRECTIVES = [
  "ok-a",
  "big",
  "empty",
  "headers",
  ...Array.from({ length: 16 }, (_, code) => `err-${code + 1}`),
  "details-3",
  "details-9",
  "details-14",
  "store-unavailable",
  "store-not_found",
  "store-exhausted",
  "store-out_of_range",
  "store-failed_precondition",
  "bug",
  "timeout-error",
  "abort-error",
] as const;

/** What one server's handlers saw: every call (method and directive) and every aborted signal. */
export interface HandlerLog {
  calls: string[];
  aborted: string[];
}

const ROLE_NUMBER: Record<string, number> = { none: 0, gateway: 1, router: 2, admin: 3 };
const CONNECTED_AT = timestampFromMs(1_700_000_000_123);

function roleOf(context: HandlerContext): string {
  return context.values.get(callerKey)?.role ?? "none";
}

function directiveAt(index: bigint): string {
  return DIRECTIVES[Number(index)] ?? `ok-${index}`;
}

/** Runs the directive's side effects; returns how many repeated items the answer should carry. */
async function obey(method: string, directive: string, context: HandlerContext, log: HandlerLog) {
  log.calls.push(`${method} ${directive.slice(0, 64)}`);
  const [verb, argument = ""] = directive.split(/-(.*)/s) as [string, string?];
  switch (verb) {
    case "err":
    case "details": {
      const code = Number(argument) as Code;
      const details =
        verb === "details"
          ? [
              { desc: DeviceLocationSchema, value: { userId: "u-detail", deviceId: "d", leaseId: 9n } },
              { desc: SequenceRangeSchema, value: { first: 1n, last: 2n } },
            ]
          : [];
      throw new ConnectError(
        `stand-in ${Code[code]} for ${method}: ü`,
        code,
        { "x-stand-in-error": `${method}-${code}` },
        details,
      );
    }
    case "store":
      throw new StoreError(argument as StoreErrorKind, `stand-in store error (${argument})`);
    case "bug":
      throw new Error("secret internal detail");
    case "timeout":
      throw new DOMException("backend call timed out", "TimeoutError");
    case "abort":
      throw new DOMException("backend call aborted", "AbortError");
    case "slow":
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(resolve, Number(argument));
        context.signal.addEventListener(
          "abort",
          () => {
            clearTimeout(timer);
            log.aborted.push(`${method} ${directive}`);
            reject(context.signal.reason);
          },
          { once: true },
        );
      });
      return 2;
    case "headers":
      context.responseHeader.set("x-stand-in-header", `${method}; role=${roleOf(context)}`);
      context.responseTrailer.set("x-stand-in-trailer", "trailer-value");
      return 1;
    case "big":
      return 40;
    case "empty":
      return 0;
    default:
      return 1;
  }
}

function devices(
  userId: string,
  count: number,
  role: string,
): MessageInitShape<typeof DeviceLocationSchema>[] {
  return Array.from({ length: count }, (_, i) => ({
    userId,
    deviceId: `device-${i}`,
    gatewayNode: `gw-${role}-${i}`,
    connectedAt: CONNECTED_AT,
    leaseId: BigInt(1000 + i),
  }));
}

export function registryHandlers(log: HandlerLog): Partial<ServiceImpl<typeof RegistryService>> {
  return {
    async grantLease(request, context) {
      const n = await obey("GrantLease", request.gatewayNode, context, log);
      if (n === 0) return {};
      return { leaseId: BigInt(request.gatewayNode.length), ttlSeconds: ROLE_NUMBER[roleOf(context)]! };
    },
    async register(request, context) {
      const n = await obey("Register", request.userId, context, log);
      if (n === 0) return {};
      return {
        leaseId: request.leaseId,
        ttlSeconds: ROLE_NUMBER[roleOf(context)]!,
        connectedAt: CONNECTED_AT,
        evicted: devices(request.userId, n - 1, roleOf(context)),
      };
    },
    async batchRegister(request, context) {
      const userId = request.devices[0]?.userId ?? "";
      const n = await obey("BatchRegister", userId, context, log);
      if (n === 0) return {};
      return {
        results: [{ evicted: devices(userId, n - 1, roleOf(context)) }],
        ttlSeconds: ROLE_NUMBER[roleOf(context)]!,
        revision: 42n,
      };
    },
    async renew(request, context) {
      const n = await obey("Renew", directiveAt(request.leaseId), context, log);
      return n === 0
        ? {}
        : { ttlSeconds: ROLE_NUMBER[roleOf(context)]! * 1000 + Number(request.leaseId % 1000n) };
    },
    async unregister(request, context) {
      const n = await obey("Unregister", request.userId, context, log);
      return { removed: n > 0 && roleOf(context) === "gateway" };
    },
    async revokeLease(request, context) {
      await obey("RevokeLease", directiveAt(request.leaseId), context, log);
      return {};
    },
    async lookup(request, context) {
      const n = await obey("Lookup", request.userId, context, log);
      if (n === 0) return {};
      return { devices: devices(request.userId, n, roleOf(context)), revision: 42n };
    },
    async batchLookup(request, context) {
      const first = request.userIds[0] ?? "";
      const n = await obey("BatchLookup", first, context, log);
      if (n === 0) return {};
      return {
        devices: request.userIds.flatMap((userId) => devices(userId, n, roleOf(context))),
        revision: BigInt(request.userIds.length),
      };
    },
    async *watch(request, context) {
      await obey("Watch", request.userIds[0] ?? "", context, log);
      yield { events: [], revision: request.startRevision };
    },
  };
}

function groupOf(conversation: { kind: { case: string | undefined; value?: unknown } } | undefined) {
  const kind = conversation?.kind;
  return kind?.case === "groupId" ? String(kind.value) : "";
}

export function sequenceHandlers(log: HandlerLog): Partial<ServiceImpl<typeof SequenceService>> {
  return {
    async next(request, context) {
      const n = await obey("Next", groupOf(request.conversation), context, log);
      if (n === 0) return {};
      return { first: BigInt(request.count), last: BigInt(request.count + ROLE_NUMBER[roleOf(context)]!) };
    },
    async current(request, context) {
      const n = await obey("Current", groupOf(request.conversation), context, log);
      return n === 0 ? {} : { sequence: BigInt(ROLE_NUMBER[roleOf(context)]! * 7) };
    },
    async batchNext(request, context) {
      const n = await obey("BatchNext", groupOf(request.items[0]?.conversation), context, log);
      const ranges = request.items.flatMap((item, i) =>
        Array.from({ length: n }, (_, k) => ({ first: BigInt(i * 100 + k), last: BigInt(item.count + k) })),
      );
      return { ranges };
    },
    async listSnapshots(request, context) {
      const n = await obey("ListSnapshots", request.pageToken, context, log);
      if (n === 0) return {};
      const role = roleOf(context);
      return {
        snapshots: Array.from({ length: n }, (_, i) => ({
          conversation: { kind: { case: "groupId" as const, value: `group-${role}-${i}` } },
          type: request.type === ConversationType.UNSPECIFIED ? ConversationType.GROUP : request.type,
          reservedCeiling: BigInt(request.pageSize * 1000 + i),
          updatedAt: CONNECTED_AT,
        })),
        nextPageToken: role,
      };
    },
  };
}
