import { StoreError, withDeadline } from "@im-core/common";
import { type Connection, createConnection, createPool, type Pool } from "mysql2/promise";

/** Connections a pool opens at most, unless told otherwise. */
export const DEFAULT_CONNECTION_LIMIT = 10;

export interface MySqlPoolOptions {
  /**
   * Most connections held at once; each reservation in flight holds one for its lock
   * (MySqlSequenceBackup keeps those to this limit minus a little headroom for other queries).
   */
  connectionLimit?: number;
  connectTimeoutMs?: number;
}

export function createMySqlPool(url: string, opts: MySqlPoolOptions = {}): Pool {
  return createPool({
    uri: url,
    connectionLimit: opts.connectionLimit ?? DEFAULT_CONNECTION_LIMIT,
    connectTimeout: opts.connectTimeoutMs ?? 2_000,
    enableKeepAlive: true,
    // A batch of seeds sends its lock, read and write statements in few round trips (seed-statements.ts).
    // Every query of the package passes its values through the driver's escaping.
    multipleStatements: true,
    // A dead server must fail requests, not park them in an unbounded queue. Reservations never
    // get here in numbers: they wait for a slot in MySqlSequenceBackup first (see Slots).
    queueLimit: 100,
  });
}

/** The pool's connection limit (as configured; the default when it cannot be read). */
export function connectionLimitOf(pool: Pool): number {
  const limit = (pool as { pool?: { config?: { connectionLimit?: unknown } } }).pool?.config?.connectionLimit;
  return typeof limit === "number" && Number.isInteger(limit) && limit > 0 ? limit : DEFAULT_CONNECTION_LIMIT;
}

/** Runs `work`, turning any driver failure or overrun of `timeoutMs` into an `unavailable` StoreError. */
export async function mysqlCall<T>(what: string, timeoutMs: number, work: () => Promise<T>): Promise<T> {
  try {
    return await withDeadline(work(), timeoutMs, () => new Error(`no answer within ${timeoutMs} ms`));
  } catch (error) {
    if (error instanceof StoreError) throw error;
    const detail = error instanceof Error ? error.message : String(error);
    throw new StoreError("unavailable", `MySQL unavailable (${what}): ${detail}`, { cause: error });
  }
}

/** `SELECT 1` over a connection of its own, then closed: whether the server answers someone not sharing our pool. */
export async function pingMySqlOnce(url: string, timeoutMs: number): Promise<void> {
  const connection = await createConnection({ uri: url, connectTimeout: timeoutMs });
  try {
    await withDeadline(
      connection.query("SELECT 1"),
      timeoutMs,
      () => new Error(`no answer within ${timeoutMs} ms`),
    );
  } finally {
    connection.destroy();
  }
}

/**
 * One connection kept for readiness checks, made again after any failure: the instance's own view of the
 * server, never queued behind its calls in the pool (a flood of reads must not read as a broken link).
 */
export class MySqlProbeConnection {
  #connection: Promise<Connection> | undefined;

  constructor(
    private readonly url: string,
    private readonly timeoutMs: number,
  ) {}

  async ping(): Promise<void> {
    this.#connection ??= createConnection({ uri: this.url, connectTimeout: this.timeoutMs });
    const connecting = this.#connection;
    try {
      const connection = await connecting;
      await withDeadline(
        connection.query("SELECT 1"),
        this.timeoutMs,
        () => new Error(`no answer within ${this.timeoutMs} ms`),
      );
    } catch (error) {
      if (this.#connection === connecting) this.#connection = undefined;
      connecting.then(
        (connection) => connection.destroy(),
        () => {},
      );
      throw error;
    }
  }

  close(): void {
    this.#connection?.then(
      (connection) => connection.destroy(),
      () => {},
    );
    this.#connection = undefined;
  }
}
