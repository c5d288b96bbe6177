import { hash, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { ConfigError } from "../config.js";

export const ROLES = ["gateway", "router", "admin"] as const;
export type Role = (typeof ROLES)[number];

/** Who a valid token belongs to. */
export interface Caller {
  readonly role: Role;
  /**
   * The gateway nodes a gateway token may act for, or "any" (a wildcard, given on purpose); undefined for
   * the other roles, which never act for a gateway.
   */
  readonly gatewayNodes?: ReadonlySet<string> | "any";
  /** A short name of the token that reveals nothing of it (per-token limits, logs). */
  readonly tokenId: string;
}

export interface TokenEntry {
  token: string;
  role: Role;
  /** Required for a gateway token: the nodes it acts for, or "any". */
  gatewayNodes?: readonly string[] | "any";
}

function digest(token: string): Buffer {
  // One-shot: no Hash object per call (every call with a token pays this).
  return hash("sha256", token, "buffer");
}

/**
 * The bearer tokens a service accepts, each with its caller. Only digests are kept, and a presented token
 * is compared with every one of them in constant time, so neither timing nor a heap dump reveals a token.
 */
export class TokenTable {
  readonly #entries: ReadonlyArray<{ digest: Buffer; caller: Caller }>;

  constructor(entries: readonly TokenEntry[]) {
    this.#entries = entries.map(({ token, role, gatewayNodes }) => {
      const hash = digest(token);
      if ((role === "gateway") !== (gatewayNodes !== undefined)) {
        throw new Error(`a ${role} token ${role === "gateway" ? "must" : "cannot"} name gateway nodes`);
      }
      const nodes =
        gatewayNodes === "any" || gatewayNodes === undefined ? gatewayNodes : new Set(gatewayNodes);
      const tokenId = hash.toString("hex").slice(0, 12);
      return { digest: hash, caller: { role, tokenId, ...(nodes ? { gatewayNodes: nodes } : {}) } };
    });
  }

  get size(): number {
    return this.#entries.length;
  }

  /** The caller `token` belongs to, or undefined when it is not one of ours. */
  callerOf(token: string): Caller | undefined {
    const presented = digest(token);
    let caller: Caller | undefined;
    for (const entry of this.#entries) {
      if (timingSafeEqual(entry.digest, presented)) caller = entry.caller;
    }
    return caller;
  }

  roleOf(token: string): Role | undefined {
    return this.callerOf(token)?.role;
  }
}

/** Whether `caller` may act for gateway `node` (always, when auth is off and there is no caller). */
export function actsFor(caller: Caller | undefined, node: string): boolean {
  const nodes = caller?.gatewayNodes;
  return caller === undefined || nodes === "any" || (nodes?.has(node) ?? false);
}

const ENTRY = /^(\S+)(?:\s+|:)(gateway|router|admin)(?:@(\S+)|((?:\s+\S+)*))\s*$/;

/**
 * Parses tokens, one entry per line (and, in AUTH_TOKENS, per comma; `#` starts a comment):
 *   `<token>:<role>` or `<token> <role>` for routers and admins;
 *   `<token>:gateway@<node>|<node>` or `<token> gateway <node> <node>` for a gateway token, naming the
 *   gateway nodes it acts for (`*` for any, only when meant).
 * Errors name the source and entry but never the token.
 */
export function parseTokens(text: string, source: string, separators = /[\n,]/): TokenEntry[] {
  const entries: TokenEntry[] = [];
  text.split(separators).forEach((raw, index) => {
    const item = raw.replace(/#.*/, "").trim();
    if (item === "") return;
    const fail = (problem: string) =>
      new ConfigError(`invalid configuration:\n  ${source}: entry ${index + 1} ${problem}`);
    const match = ENTRY.exec(item);
    if (!match) throw fail(`must be "<token>:<role>" with role one of ${ROLES.join(", ")}`);
    const token = match[1]!;
    const role = match[2] as Role;
    if (token.length < 16) throw fail("has a token shorter than 16 characters");
    const nodes = (match[3]?.split("|") ?? match[4]?.trim().split(/\s+/) ?? []).filter((node) => node !== "");
    if (role !== "gateway") {
      if (nodes.length > 0) throw fail(`names gateway nodes, but a ${role} token acts for none`);
      entries.push({ token, role });
      return;
    }
    if (nodes.length === 0) {
      throw fail(
        'is a gateway token that names no gateway node: list them ("<token>:gateway@gw-1:9000|gw-2:9000"), or * for any',
      );
    }
    if (nodes.some((node) => Buffer.byteLength(node) > 256))
      throw fail("names a gateway node longer than 256 bytes");
    entries.push({ token, role, gatewayNodes: nodes.includes("*") ? "any" : nodes });
  });
  return entries;
}

export function readTokenFile(file: string): TokenEntry[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new ConfigError(
      `invalid configuration:\n  AUTH_TOKENS_FILE: cannot read ${file} (${(error as Error).message})`,
    );
  }
  return parseTokens(text, "AUTH_TOKENS_FILE", /\n/);
}
