import zlib from "node:zlib";
import { create, type DescMessage, type DescMethod, toBinary, toJsonString } from "@bufbuild/protobuf";
import { ConversationType, RegistryService, SequenceService } from "@im-core/proto";
import { Health } from "@im-core/proto/grpc/health/v1";
import type { ServiceName } from "./server-pair.js";
import { DIRECTIVES } from "./stand-in-handlers.js";

/** Replaced in an encoded request by bytes that are not UTF-8 (same length, so lengths stay right). */
export const UTF8_MARKER = "ZZQQ";
const NOT_UTF8 = Buffer.from([0xc3, 0x28, 0xff, 0x80]);

export type PathKind = "unary" | "streaming" | "unknown";

/** A path the generator may send to a server, and how to build a request for it from a directive. */
export interface Target {
  readonly path: string;
  readonly kind: PathKind;
  /** Set for the methods the server has (input schema); unknown paths get the bytes of a LookupRequest. */
  readonly method: DescMethod | undefined;
  readonly hasStringField: boolean;
}

/** The message of `method` that carries `directive` where the stand-in handlers read it. */
function requestInit(method: DescMethod, directive: string): Record<string, unknown> {
  const index = BigInt(Math.max(0, DIRECTIVES.indexOf(directive as (typeof DIRECTIVES)[number])));
  const group = { kind: { case: "groupId", value: directive } };
  switch (`${method.parent.name}/${method.name}`) {
    case "RegistryService/GrantLease":
      return { gatewayNode: directive, ttlSeconds: 30 };
    case "RegistryService/Register":
      return { userId: directive, deviceId: "phone", gatewayNode: "gw-1", leaseId: 7n };
    case "RegistryService/BatchRegister":
      return { gatewayNode: "gw-1", leaseId: 7n, devices: [{ userId: directive, deviceId: "phone" }] };
    case "RegistryService/Unregister":
      return { userId: directive, deviceId: "phone", gatewayNode: "gw-1" };
    case "RegistryService/Renew":
    case "RegistryService/RevokeLease":
      return { leaseId: index };
    case "RegistryService/Lookup":
      return { userId: directive };
    case "RegistryService/BatchLookup":
      return { userIds: [directive, "second-user"] };
    case "RegistryService/Watch":
      return { userIds: [directive], startRevision: 3n };
    case "SequenceService/Next":
      return { conversation: group, count: 3 };
    case "SequenceService/Current":
      return { conversation: group };
    case "SequenceService/BatchNext":
      return {
        items: [
          { conversation: group, count: 2 },
          { conversation: { kind: { case: "privateChat", value: { userA: "a", userB: "b" } } }, count: 1 },
        ],
      };
    case "SequenceService/ListSnapshots":
      return { type: ConversationType.PRIVATE, pageSize: 10, pageToken: directive };
    default:
      // The health service: its one string field names the service asked about.
      return { service: directive === "empty" ? "" : directive };
  }
}

const lookup = RegistryService.method.lookup;

/** The request message for `target`, encoded as JSON or binary protobuf. */
export function encodeRequest(target: Target, directive: string, json: boolean, enumValue?: number): Buffer {
  const method = target.method ?? lookup;
  const init = requestInit(method, directive);
  if (enumValue !== undefined && "type" in init) init.type = enumValue;
  const message = create(method.input as DescMessage, init);
  return json
    ? Buffer.from(toJsonString(method.input, message))
    : Buffer.from(toBinary(method.input, message));
}

/** `message` with its first UTF-8 marker replaced by bytes that are not UTF-8 (unchanged without one). */
export function breakUtf8(message: Buffer): Buffer {
  const at = message.indexOf(UTF8_MARKER);
  if (at < 0) return message;
  const broken = Buffer.from(message);
  NOT_UTF8.copy(broken, at);
  return broken;
}

/** A 5-byte envelope (gRPC, gRPC-Web, Connect streaming) around `message`. */
export function envelope(message: Uint8Array, flags = 0, claimedLength = message.length): Buffer {
  const frame = Buffer.alloc(5 + message.length);
  frame[0] = flags;
  frame.writeUInt32BE(claimedLength, 1);
  frame.set(message, 5);
  return frame;
}

/** Field 99, length-delimited, `size` bytes: a field no request has, which binary decoding keeps. */
export function unknownBinaryField(size: number): Buffer {
  const length: number[] = [];
  for (let n = size; ; n >>>= 7) {
    if (n < 0x80) {
      length.push(n);
      break;
    }
    length.push((n & 0x7f) | 0x80);
  }
  // Tag: field 99, wire type 2 → (99 << 3) | 2 = 794 → varint 0x9a 0x06.
  return Buffer.concat([Buffer.from([0x9a, 0x06, ...length]), Buffer.alloc(size, 0x61)]);
}

/** A JSON object's text with one more key (after the opening brace). */
export function withJsonKey(json: Buffer, key: string, value: unknown): Buffer {
  const text = json.toString("latin1");
  const rest = text.slice(1).trim();
  return Buffer.from(
    `{${JSON.stringify(key)}:${JSON.stringify(value)}${rest === "}" ? "" : ","}${rest}`,
    "latin1",
  );
}

export const gzip = (data: Uint8Array): Buffer => zlib.gzipSync(data);

/** The paths sent to a server of `service`: its methods, the health service, and paths it does not serve. */
export function targetsOf(service: ServiceName): Target[] {
  const own = service === "registry" ? RegistryService : SequenceService;
  const other = service === "registry" ? SequenceService : RegistryService;
  const targets: Target[] = [...own.methods, ...Health.methods].map((method) => ({
    path: `/${method.parent.typeName}/${method.name}`,
    kind: method.methodKind === "unary" ? "unary" : "streaming",
    method,
    hasStringField: !["Renew", "RevokeLease"].includes(method.name),
  }));
  for (const path of [
    `/${other.typeName}/${other.methods[0]!.name}`,
    `/${own.typeName}/NoSuchMethod`,
    `/${own.typeName.toLowerCase()}/${own.methods[0]!.name}`,
    "/",
    "/no.such.Service/Call",
  ]) {
    targets.push({ path, kind: "unknown", method: undefined, hasStringField: true });
  }
  return targets;
}
