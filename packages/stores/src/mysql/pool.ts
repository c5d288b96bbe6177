import { createPool, type Pool } from "mysql2/promise";
import { StoreError } from "../errors.js";

export interface MySqlPoolOptions {
  /** Most connections held at once; each reservation in flight holds one for its lock. */
  connectionLimit?: number;
  connectTimeoutMs?: number;
}

export function createMySqlPool(url: string, opts: MySqlPoolOptions = {}): Pool {
  return createPool({
    uri: url,
    connectionLimit: opts.connectionLimit ?? 10,
    connectTimeout: opts.connectTimeoutMs ?? 2_000,
    enableKeepAlive: true,
    // A dead server must fail requests, not park them in an unbounded queue.
    queueLimit: 100,
  });
}

/** Runs `work`, turning any driver failure or overrun of `timeoutMs` into an `unavailable` StoreError. */
export async function mysqlCall<T>(what: string, timeoutMs: number, work: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const overrun = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([work(), overrun]);
  } catch (error) {
    if (error instanceof StoreError) throw error;
    const detail = error instanceof Error ? error.message : String(error);
    throw new StoreError("unavailable", `MySQL unavailable (${what}): ${detail}`, { cause: error });
  } finally {
    clearTimeout(timer);
  }
}
