import { connect } from "node:net";
import { HOST } from "./ports.js";

type Reply = string | number | null | Error | Reply[];

/** Parses one RESP2 reply at `pos`; undefined while the buffer holds only part of it. */
function parse(buf: Buffer, pos: number): [Reply, number] | undefined {
  const end = buf.indexOf("\r\n", pos);
  if (end < 0) return undefined;
  const line = buf.toString("utf8", pos + 1, end);
  const next = end + 2;
  switch (String.fromCharCode(buf[pos]!)) {
    case "+":
      return [line, next];
    case "-":
      return [new Error(line), next];
    case ":":
      return [Number(line), next];
    case "$": {
      const length = Number(line);
      if (length < 0) return [null, next];
      if (buf.length < next + length + 2) return undefined;
      return [buf.toString("utf8", next, next + length), next + length + 2];
    }
    case "*": {
      const count = Number(line);
      if (count < 0) return [null, next];
      const items: Reply[] = [];
      let at = next;
      for (let i = 0; i < count; i++) {
        const item = parse(buf, at);
        if (!item) return undefined;
        items.push(item[0]);
        at = item[1];
      }
      return [items, at];
    }
    default:
      throw new Error(`unexpected RESP reply: ${JSON.stringify(buf.toString("utf8", pos, end))}`);
  }
}

function flatten(reply: Reply): string | null {
  if (reply === null) return null;
  if (reply instanceof Error) return reply.message;
  if (Array.isArray(reply)) return reply.map(flatten).join("\n");
  return String(reply);
}

function encode(args: readonly (string | number)[]): Buffer {
  const parts = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = Buffer.from(String(arg), "utf8");
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from("\r\n"));
  }
  return Buffer.concat(parts);
}

/**
 * Sends one command to a Redis server over a fresh connection and returns the reply flattened to text:
 * simple and bulk strings as is, integers in decimal, nil as `null`, arrays as their elements joined by
 * "\n". An error reply rejects; so does no reply within `timeoutMs` (default 5 s), e.g. from a paused server.
 */
export function redisCommand(
  port: number,
  args: readonly (string | number)[],
  opts: { host?: string; timeoutMs?: number } = {},
): Promise<string | null> {
  const host = opts.host ?? HOST;
  const timeoutMs = opts.timeoutMs ?? 5000;
  return new Promise((resolve, reject) => {
    let buffer = Buffer.alloc(0);
    let settled = false;
    const socket = connect({ host, port });
    const finish = (error: Error | undefined, value?: string | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(value ?? null);
    };
    const timer = setTimeout(
      () =>
        finish(new Error(`redis ${host}:${port} did not answer ${String(args[0])} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    socket.on("connect", () => socket.write(encode(args)));
    socket.on("data", (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      try {
        const parsed = parse(buffer, 0);
        if (!parsed) return;
        const [reply] = parsed;
        if (reply instanceof Error)
          finish(new Error(`redis ${host}:${port} ${String(args[0])}: ${reply.message}`));
        else finish(undefined, flatten(reply));
      } catch (error) {
        finish(error as Error);
      }
    });
    socket.on("error", (error) => finish(error));
    socket.on("close", () =>
      finish(new Error(`redis ${host}:${port} closed the connection without a reply`)),
    );
  });
}
