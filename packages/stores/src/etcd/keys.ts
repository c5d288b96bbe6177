/**
 * The etcd key layout, in one place. `<root>devices/<enc(user)>/<enc(device)>`, where `enc` never emits
 * "/": so the user prefix `<root>devices/<enc(user)>/` matches exactly that user's devices, whatever
 * characters the IDs contain, and two distinct (user, device) pairs never share a key.
 */

export const DEFAULT_ROOT = "/im/registry/v1/";

/**
 * Percent-encoding (RFC 3986 component rules) is injective on well-formed strings and escapes "/" and
 * "%". Strings with lone surrogates have no UTF-8 form at all; the service rejects them before they get
 * here, and `encodeURIComponent` throws a URIError on them rather than mapping two IDs to one key.
 */
export function encodeSegment(id: string): string {
  return encodeURIComponent(id);
}

export function decodeSegment(segment: string): string {
  return decodeURIComponent(segment);
}

export class KeyLayout {
  readonly devicesPrefix: string;
  /** `<root>leases/<lease id>`: the gateway node a lease was granted to, attached to the lease itself. */
  readonly leasesPrefix: string;

  /** Every key of the registry: device entries and lease owners. */
  readonly root: string;

  constructor(root: string = DEFAULT_ROOT) {
    if (!root.endsWith("/")) throw new Error(`etcd key root must end with "/": ${root}`);
    this.root = root;
    this.devicesPrefix = `${root}devices/`;
    this.leasesPrefix = `${root}leases/`;
  }

  leaseKey(leaseId: bigint): string {
    return `${this.leasesPrefix}${leaseId}`;
  }

  /** The lease a lease-owner key belongs to, or undefined for any other key. */
  parseLease(key: string): bigint | undefined {
    if (!key.startsWith(this.leasesPrefix)) return undefined;
    const id = key.slice(this.leasesPrefix.length);
    return /^[0-9]+$/.test(id) ? BigInt(id) : undefined;
  }

  userPrefix(userId: string): string {
    return `${this.devicesPrefix}${encodeSegment(userId)}/`;
  }

  deviceKey(userId: string, deviceId: string): string {
    return `${this.userPrefix(userId)}${encodeSegment(deviceId)}`;
  }

  /** The (user, device) a key names, or undefined for a key outside this layout. */
  parse(key: string): { userId: string; deviceId: string } | undefined {
    if (!key.startsWith(this.devicesPrefix)) return undefined;
    const rest = key.slice(this.devicesPrefix.length);
    const slash = rest.indexOf("/");
    if (slash <= 0 || slash === rest.length - 1 || rest.indexOf("/", slash + 1) !== -1) return undefined;
    try {
      return { userId: decodeSegment(rest.slice(0, slash)), deviceId: decodeSegment(rest.slice(slash + 1)) };
    } catch {
      return undefined;
    }
  }
}

/** The exclusive end of the key range holding every key that starts with `prefix` (etcd's range_end). */
export function prefixEnd(prefix: string): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]! += 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}
