/**
 * The value stored under a device key. JSON, so no character inside a gateway address can break parsing
 * (a `gateway|time` string would break on an address holding `|`). The lease lives in etcd's own `lease` field of the
 * key, which etcd keeps true; copying it into the value could only let the two disagree.
 */
export interface StoredValue {
  gatewayNode: string;
  connectedAtMs: number;
}

export function encodeValue(value: StoredValue): Buffer {
  return Buffer.from(
    JSON.stringify({ v: 1, gateway_node: value.gatewayNode, connected_at_ms: value.connectedAtMs }),
  );
}

/** Undefined for a value this version cannot read (never thrown: one bad key must not break a lookup). */
export function decodeValue(bytes: Buffer | Uint8Array): StoredValue | undefined {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(bytes).toString("utf8"));
    if (typeof parsed !== "object" || parsed === null) return undefined;
    const { gateway_node, connected_at_ms } = parsed as Record<string, unknown>;
    if (typeof gateway_node !== "string" || typeof connected_at_ms !== "number") return undefined;
    return { gatewayNode: gateway_node, connectedAtMs: connected_at_ms };
  } catch {
    return undefined;
  }
}
