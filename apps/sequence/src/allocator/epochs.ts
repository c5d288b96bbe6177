import { StoreError } from "@im-core/common";
import type { MySqlSequenceBackup } from "@im-core/stores/mysql";
import type { RedisSequenceStore, Ticket } from "@im-core/stores/redis";

/**
 * Pairs the Redis connection with the epoch of the server it talks to. The epoch lives in MySQL
 * and is bumped whenever the Redis server's identity (run id and replication id) changes, so
 * counters a stale server still holds (lagging replica, old snapshot, data replaced in place by a
 * resync) are older than the epoch and count as missing. Every script call checks the replication
 * id again, so a change under a live connection is noticed at the next call, not at a reconnect.
 * While the identity stays the same (a mere reconnect), no MySQL round trip is needed: numbers
 * inside reserved blocks keep flowing with MySQL down.
 */
export class EpochGuard {
  #known: { identity: string; epoch: number } | undefined;
  #resolving: Promise<number> | undefined;
  /** The last identity seen, kept across catchUp() (which forgets #known): tells real server changes. */
  #lastIdentity: string | undefined;
  #lastEpoch = 0;

  constructor(
    private readonly redis: RedisSequenceStore,
    private readonly backup: MySqlSequenceBackup,
    private readonly onServerChange: () => void = () => {},
  ) {}

  /** The epoch last looked up (0 before the first). */
  get epoch(): number {
    return this.#lastEpoch;
  }

  async ticket(): Promise<Ticket> {
    const connection = await this.redis.connection();
    const known = this.#known;
    const { generation, fence } = connection;
    if (known?.identity === connection.identity) return { generation, epoch: known.epoch, fence };
    const epoch = await this.#resolve(connection.identity);
    return { generation, epoch, fence };
  }

  /**
   * Redis or MySQL says a newer epoch exists (another instance saw a server change first, or a
   * reservation was fenced): forget ours and read it again. Fails if MySQL still says otherwise.
   */
  async catchUp(seen: number): Promise<void> {
    this.#known = undefined;
    const ticket = await this.ticket();
    if (ticket.epoch < seen) {
      throw new StoreError(
        "failed_precondition",
        `Redis holds counters of epoch ${seen} but MySQL's epoch is ${ticket.epoch}: are REDIS_URL and MYSQL_URL a pair?`,
      );
    }
  }

  #resolve(identity: string): Promise<number> {
    // One MySQL round trip however many requests notice the new server at once.
    this.#resolving ??= this.backup
      .epochFor(identity)
      .then((epoch) => {
        this.#known = { identity, epoch };
        if (this.#lastIdentity !== undefined && this.#lastIdentity !== identity) this.onServerChange();
        this.#lastIdentity = identity;
        this.#lastEpoch = epoch;
        return epoch;
      })
      .finally(() => {
        this.#resolving = undefined;
      });
    return this.#resolving.then((epoch) => {
      if (this.#known?.identity !== identity)
        throw new StoreError("unavailable", "Redis server changed; retry");
      return epoch;
    });
  }
}
