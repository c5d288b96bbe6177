import { createHash, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { ConfigError } from "../config.js";

export const ROLES = ["gateway", "router", "admin"] as const;
export type Role = (typeof ROLES)[number];

function digest(token: string): Buffer {
  return createHash("sha256").update(token, "utf8").digest();
}

/**
 * The bearer tokens a service accepts, each with its role. Only digests are kept, and a presented
 * token is compared with every one of them in constant time, so neither timing nor a heap dump
 * reveals a token.
 */
export class TokenTable {
  readonly #entries: ReadonlyArray<{ digest: Buffer; role: Role }>;

  constructor(entries: ReadonlyArray<{ token: string; role: Role }>) {
    this.#entries = entries.map(({ token, role }) => ({ digest: digest(token), role }));
  }

  get size(): number {
    return this.#entries.length;
  }

  /** The role of `token`, or undefined when it is not one of ours. */
  roleOf(token: string): Role | undefined {
    const presented = digest(token);
    let role: Role | undefined;
    for (const entry of this.#entries) {
      if (timingSafeEqual(entry.digest, presented)) role = entry.role;
    }
    return role;
  }
}

/**
 * Parses `token:role` pairs separated by commas or newlines (AUTH_TOKENS) or `token role` lines
 * (AUTH_TOKENS_FILE; `#` starts a comment). Errors name the source and line but never the token.
 */
export function parseTokens(text: string, source: string): Array<{ token: string; role: Role }> {
  const entries: Array<{ token: string; role: Role }> = [];
  const items = text.split(/[\n,]/);
  items.forEach((raw, index) => {
    const item = raw.replace(/#.*/, "").trim();
    if (item === "") return;
    const match = /^(\S+)(?:\s+|:)(\S+)$/.exec(item);
    const role = match?.[2] as Role | undefined;
    if (!match || !role || !ROLES.includes(role)) {
      throw new ConfigError(
        `invalid configuration:\n  ${source}: entry ${index + 1} must be "<token>:<role>" with role one of ${ROLES.join(", ")}`,
      );
    }
    if (match[1]!.length < 16) {
      throw new ConfigError(
        `invalid configuration:\n  ${source}: entry ${index + 1} has a token shorter than 16 characters`,
      );
    }
    entries.push({ token: match[1]!, role });
  });
  return entries;
}

export function readTokenFile(file: string): Array<{ token: string; role: Role }> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new ConfigError(
      `invalid configuration:\n  AUTH_TOKENS_FILE: cannot read ${file} (${(error as Error).message})`,
    );
  }
  return parseTokens(text, "AUTH_TOKENS_FILE");
}
