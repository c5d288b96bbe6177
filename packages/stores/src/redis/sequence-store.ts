import { readFileSync } from "node:fs";
import { StoreError, withDeadline } from "@im-core/common";
import { Cluster, type Redis } from "ioredis";

const script = readFileSync(new URL("./sequence.lua", import.meta.url), "utf8");

/** Status codes of sequence.lua. */
const Status = { ok: 0, seed: 1, reserve: 2, behind: 3, noop: 4 } as const;

/**
 * The Redis server(s) a connection talks to. `identity` changes whenever the server changes
 * (restart, failover to a replica), which is how a stale copy of the counters is recognised.
 */
export interface RedisConnection {
  readonly identity: string;
  readonly generation: number;
}

/** Permission to run a script: on the connection whose identity was checked, in `epoch`. */
export interface Ticket {
  readonly generation: number;
  readonly epoch: number;
}

export type NextReply =
  | { readonly status: "ok"; readonly first: number; readonly last: number; readonly prefetch: boolean }
  | { readonly status: "seed" }
  | { readonly status: "reserve"; readonly cur: number; readonly max: number }
  | { readonly status: "behind"; readonly epoch: number };

export type GrantReply =
  | { readonly status: "ok"; readonly first: number; readonly last: number; readonly seeded: boolean }
  | { readonly status: "reserve"; readonly cur: number; readonly max: number }
  | { readonly status: "behind"; readonly epoch: number };

export type ApplyReply =
  | { readonly status: "ok" | "noop" }
  | { readonly status: "behind"; readonly epoch: number };

export interface CounterState {
  readonly cur: number;
  readonly max: number;
  readonly epoch: number;
}

type ScriptClient = (Redis | Cluster) & {
  imSequence(key: string, ...args: (string | number)[]): Promise<number[]>;
};

/**
 * Per-conversation counters in Redis, driven only through sequence.lua. Every call is gated on a
 * checked connection: after any reconnect, nothing runs until the server's identity has been read
 * again, so an allocation can never land on a new server under an epoch meant for the old one.
 */
export class RedisSequenceStore {
  readonly #client: ScriptClient;
  #generation = 0;
  #connection: Promise<RedisConnection> | undefined;
  #ready: Promise<void> | undefined;

  readonly #connectWaitMs: number;

  constructor(client: Redis | Cluster, opts: { connectWaitMs?: number } = {}) {
    this.#connectWaitMs = opts.connectWaitMs ?? 1_000;
    client.defineCommand("imSequence", { numberOfKeys: 1, lua: script });
    this.#client = client as ScriptClient;
    const invalidate = () => {
      this.#generation += 1;
      this.#connection = undefined;
    };
    client.on("close", invalidate);
    client.on("end", invalidate);
    if (client instanceof Cluster) {
      client.on("+node", (node: Redis) => {
        invalidate();
        node.on("close", invalidate);
      });
      client.on("-node", invalidate);
    }
    // Connection errors surface per request as UNAVAILABLE; an unhandled 'error' event would crash.
    client.on("error", () => {});
  }

  get client(): Redis | Cluster {
    return this.#client;
  }

  /** Resolves once connected (for start-up), or rejects with `unavailable` after `timeoutMs`. */
  async waitReady(timeoutMs: number): Promise<void> {
    const client = this.#client;
    if (client.status === "wait") {
      await client.connect().catch(() => {});
    }
    if (client.status === "ready") return;
    // One listener however many calls wait for the same (re)connect.
    this.#ready ??= new Promise<void>((resolve) =>
      client.once("ready", () => {
        this.#ready = undefined;
        resolve();
      }),
    );
    await withDeadline(
      this.#ready,
      timeoutMs,
      () => new StoreError("unavailable", `Redis not ready after ${timeoutMs} ms`),
    );
  }

  /** One round trip to the server: a hung server fails this even while its connection looks fine. */
  async ping(): Promise<void> {
    try {
      await this.#client.ping();
    } catch (error) {
      throw unavailable(error);
    }
  }

  /**
   * The current connection, its server identity read once per (re)connect. Fails fast while Redis
   * is down; a connection attempt under way gets `connectWaitMs` to finish.
   */
  async connection(): Promise<RedisConnection> {
    if (this.#connection) return this.#connection;
    const status = this.#client.status;
    if (status === "wait" || status === "connecting" || status === "connect") {
      await this.waitReady(this.#connectWaitMs);
    } else if (status !== "ready") {
      throw unavailable(new Error(`connection ${status}`));
    }
    if (this.#connection) return this.#connection;
    const generation = this.#generation;
    const checked = this.#readIdentity().then((identity) => {
      if (generation !== this.#generation) throw unavailable(new Error("connection changed"));
      return { identity, generation };
    });
    this.#connection = checked;
    checked.catch(() => {
      if (this.#connection === checked) this.#connection = undefined;
    });
    return checked;
  }

  async next(ticket: Ticket, key: string, count: number, prefetchBelow: number): Promise<NextReply> {
    const reply = await this.#run(ticket, key, "next", count, prefetchBelow);
    switch (reply[0]) {
      case Status.ok:
        return { status: "ok", first: at(reply, 1), last: at(reply, 2), prefetch: reply[3] === 1 };
      case Status.seed:
        return { status: "seed" };
      case Status.reserve:
        return { status: "reserve", cur: at(reply, 1), max: at(reply, 2) };
      default:
        return behind(reply);
    }
  }

  /** Creates the counter at `from` (nothing above it was ever handed out) if missing or stale. */
  async seed(ticket: Ticket, key: string, from: number, ceiling: number): Promise<ApplyReply> {
    return applyReply(await this.#run(ticket, key, "seed", from, ceiling));
  }

  /**
   * Applies a reservation and allocates `count` in one atomic step: raises a live counter's ceiling
   * to `ceiling`, or seeds a missing or stale one at `from` (nothing above it was ever handed out),
   * then hands out `count` numbers if they fit below the ceiling.
   */
  async grant(
    ticket: Ticket,
    key: string,
    from: number,
    ceiling: number,
    count: number,
  ): Promise<GrantReply> {
    const reply = await this.#run(ticket, key, "grant", from, ceiling, count);
    switch (reply[0]) {
      case Status.ok:
        return { status: "ok", first: at(reply, 1), last: at(reply, 2), seeded: reply[3] === 1 };
      case Status.reserve:
        return { status: "reserve", cur: at(reply, 1), max: at(reply, 2) };
      default:
        return behind(reply);
    }
  }

  /** Raises the reserved ceiling of a live counter; never lowers it, never creates a counter. */
  async extend(ticket: Ticket, key: string, ceiling: number): Promise<ApplyReply> {
    return applyReply(await this.#run(ticket, key, "extend", ceiling));
  }

  /** The raw counter, for reads that must not allocate (its epoch is for the caller to judge). */
  async peek(ticket: Ticket, key: string): Promise<CounterState | undefined> {
    this.#checkTicket(ticket);
    const [cur, max, ep] = await this.#call(() => this.#client.hmget(key, "cur", "max", "ep"));
    if (cur == null || max == null || ep == null) return undefined;
    return { cur: Number(cur), max: Number(max), epoch: Number(ep) };
  }

  async close(): Promise<void> {
    await this.#client.quit().catch(() => this.#client.disconnect());
  }

  async #readIdentity(): Promise<string> {
    const client = this.#client;
    const servers = client instanceof Cluster ? client.nodes("master") : [client];
    const infos = await this.#call(() => Promise.all(servers.map((server) => server.info("server"))));
    // In a cluster any master's change counts, so the identity is the set of all masters' run ids.
    return infos.map(runIdOf).sort().join(",");
  }

  #run(ticket: Ticket, key: string, op: string, ...args: number[]): Promise<number[]> {
    this.#checkTicket(ticket);
    return this.#call(() => this.#client.imSequence(key, op, ticket.epoch, ...args));
  }

  /** Checked synchronously right before sending, so the connection that was verified is the one used. */
  #checkTicket(ticket: Ticket): void {
    if (ticket.generation !== this.#generation || this.#client.status !== "ready") {
      throw unavailable(new Error("connection changed since it was checked"));
    }
  }

  async #call<T>(command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (error) {
      throw unavailable(error);
    }
  }
}

function runIdOf(info: string): string {
  const match = /^run_id:(\w+)/m.exec(info);
  if (!match?.[1]) throw new Error("INFO server has no run_id");
  return match[1];
}

function at(reply: number[], index: number): number {
  const value = reply[index];
  if (typeof value !== "number") throw new Error(`malformed sequence.lua reply: ${JSON.stringify(reply)}`);
  return value;
}

function behind(reply: number[]): { status: "behind"; epoch: number } {
  if (reply[0] !== Status.behind) throw new Error(`malformed sequence.lua reply: ${JSON.stringify(reply)}`);
  return { status: "behind", epoch: at(reply, 1) };
}

function applyReply(reply: number[]): ApplyReply {
  if (reply[0] === Status.ok) return { status: "ok" };
  if (reply[0] === Status.noop) return { status: "noop" };
  return behind(reply);
}

function unavailable(cause: unknown): StoreError {
  if (cause instanceof StoreError) return cause;
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new StoreError("unavailable", `Redis unavailable: ${detail}`, { cause });
}
