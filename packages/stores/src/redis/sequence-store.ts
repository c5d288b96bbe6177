import { readFileSync } from "node:fs";
import { StoreError, withDeadline } from "@im-core/common";
import { Cluster, type Redis } from "ioredis";

const script = readFileSync(new URL("./sequence.lua", import.meta.url), "utf8");

/** Status codes of sequence.lua. */
const Status = { ok: 0, seed: 1, reserve: 2, behind: 3, noop: 4, changed: 5 } as const;

/**
 * The Redis server(s) a connection talks to. `identity` (run ids and replication ids) changes
 * whenever the server or its data's lineage changes (restart, failover to a replica, a full resync
 * followed by a promotion), which is how a stale copy of the counters is recognised. `fence` is the
 * replication ids alone: what every script call checks against the server it runs on.
 */
export interface RedisConnection {
  readonly identity: string;
  readonly fence: string;
  readonly generation: number;
}

/** Permission to run a script: on the connection whose identity was checked, in `epoch`. */
export interface Ticket {
  readonly generation: number;
  readonly epoch: number;
  /** The replication ids `epoch` was taken for (RedisConnection.fence). */
  readonly fence: string;
}

/**
 * The caller's epoch is out of date: a key of a newer `epoch` was found, or (`epoch` 0) the server is
 * no longer the one the epoch was taken for, and the connection's identity will be read again. Either
 * way: refresh the epoch and go round again.
 */
export type BehindReply = { readonly status: "behind"; readonly epoch: number };

export type NextReply =
  | { readonly status: "ok"; readonly first: number; readonly last: number; readonly prefetch: boolean }
  /** No live counter: seed it from MySQL. `known`: one from an older epoch exists, so the conversation is not new. */
  | { readonly status: "seed"; readonly known: boolean }
  | { readonly status: "reserve"; readonly cur: number; readonly max: number }
  | BehindReply;

export type GrantReply =
  | { readonly status: "ok"; readonly first: number; readonly last: number; readonly seeded: boolean }
  | { readonly status: "reserve"; readonly cur: number; readonly max: number }
  | BehindReply;

export type ApplyReply = { readonly status: "ok" | "noop" } | BehindReply;

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
    const invalidate = () => this.#invalidate();
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
    const checked = this.#readIdentity().then(({ identity, fence }) => {
      if (generation !== this.#generation) throw unavailable(new Error("connection changed"));
      return { identity, fence, generation };
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
        return { status: "seed", known: reply[1] === 1 };
      case Status.reserve:
        return { status: "reserve", cur: at(reply, 1), max: at(reply, 2) };
      default:
        return this.#behind(reply, ticket);
    }
  }

  /** Creates the counter at `from` (nothing above it was ever handed out) if missing or stale. */
  async seed(ticket: Ticket, key: string, from: number, ceiling: number): Promise<ApplyReply> {
    return this.#applyReply(await this.#run(ticket, key, "seed", from, ceiling), ticket);
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
        return this.#behind(reply, ticket);
    }
  }

  /** Raises the reserved ceiling of a live counter; never lowers it, never creates a counter. */
  async extend(ticket: Ticket, key: string, ceiling: number): Promise<ApplyReply> {
    return this.#applyReply(await this.#run(ticket, key, "extend", ceiling), ticket);
  }

  /**
   * The raw counter, for reads that must not allocate (an older epoch is for the caller to judge);
   * undefined when there is none. Behind the same fence as allocations.
   */
  async peek(ticket: Ticket, key: string): Promise<CounterState | undefined | BehindReply> {
    const reply = await this.#run(ticket, key, "peek");
    if (reply[0] === Status.seed) return undefined;
    if (reply[0] !== Status.ok) return this.#behind(reply, ticket);
    return { cur: at(reply, 1), max: at(reply, 2), epoch: at(reply, 3) };
  }

  async close(): Promise<void> {
    await this.#client.quit().catch(() => this.#client.disconnect());
  }

  async #readIdentity(): Promise<{ identity: string; fence: string }> {
    const client = this.#client;
    const servers = client instanceof Cluster ? client.nodes("master") : [client];
    const ids = await this.#call(() =>
      Promise.all(
        servers.map(async (server) => {
          const [info, replication] = await Promise.all([server.info("server"), server.info("replication")]);
          return { runId: field(info, "run_id"), replId: field(replication, "master_replid") };
        }),
      ),
    );
    // In a cluster any master's change counts, so the identity covers every master.
    return {
      identity: ids
        .map(({ runId, replId }) => `${runId}/${replId}`)
        .sort()
        .join(","),
      fence: ids
        .map(({ replId }) => replId)
        .sort()
        .join(","),
    };
  }

  #invalidate(): void {
    this.#generation += 1;
    this.#connection = undefined;
  }

  #run(ticket: Ticket, key: string, op: string, ...args: number[]): Promise<number[]> {
    if (this.#client.status !== "ready") throw unavailable(new Error(`connection ${this.#client.status}`));
    // Checked synchronously right before sending, so the connection that was verified is the one used.
    // A ticket from before the connection changed is answered as the script answers a changed server:
    // the caller refreshes its epoch and goes round, instead of failing.
    if (ticket.generation !== this.#generation) return Promise.resolve([Status.changed]);
    return this.#call(() => this.#client.imSequence(key, op, ticket.epoch, ticket.fence, ...args));
  }

  /** BEHIND as is; CHANGED (the server is not the one the ticket's epoch was taken for) as epoch 0. */
  #behind(reply: number[], ticket: Ticket): BehindReply {
    if (reply[0] === Status.changed) {
      // Read the identity again, unless that already happened since this ticket was issued.
      if (ticket.generation === this.#generation) this.#invalidate();
      return { status: "behind", epoch: 0 };
    }
    if (reply[0] !== Status.behind) throw new Error(`malformed sequence.lua reply: ${JSON.stringify(reply)}`);
    return { status: "behind", epoch: at(reply, 1) };
  }

  #applyReply(reply: number[], ticket: Ticket): ApplyReply {
    if (reply[0] === Status.ok) return { status: "ok" };
    if (reply[0] === Status.noop) return { status: "noop" };
    return this.#behind(reply, ticket);
  }

  async #call<T>(command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (error) {
      // The server stopped being a writable primary, or is loading data: whatever it holds next may
      // be another lineage, so its identity is read again before the next call.
      if (error instanceof Error && /^(READONLY|LOADING|MASTERDOWN)/.test(error.message)) this.#invalidate();
      // ioredis follows a redirection by itself only when every command of an auto-pipelined batch got the
      // same one; a batch over several slots of a failed-over master returns MOVED to each caller and would
      // keep going to the old node. Learning the new layout now lets the next call (a retry) get through.
      const { client } = this;
      if (client instanceof Cluster && error instanceof Error && error.message.startsWith("MOVED ")) {
        client.refreshSlotsCache();
      }
      throw unavailable(error);
    }
  }
}

function field(info: string, name: string): string {
  const match = new RegExp(`^${name}:(\\w+)`, "m").exec(info);
  if (!match?.[1]) throw new Error(`INFO has no ${name}`);
  return match[1];
}

function at(reply: number[], index: number): number {
  const value = reply[index];
  if (typeof value !== "number") throw new Error(`malformed sequence.lua reply: ${JSON.stringify(reply)}`);
  return value;
}

function unavailable(cause: unknown): StoreError {
  if (cause instanceof StoreError) return cause;
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new StoreError("unavailable", `Redis unavailable: ${detail}`, { cause });
}
