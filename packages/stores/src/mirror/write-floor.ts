/** Users whose own writes are tracked one by one; past that, every read waits for all of them. */
export const MAX_FLOOR_USERS = 100_000;

/**
 * Read-your-writes for a mirror's owner: the highest revision the owner wrote under each user (`note`
 * with users), or under users it cannot name (`note` without: a revoked lease), and waiters that want
 * the mirror to have applied it before they read. A read of some users waits only for writes to those
 * users and for the unnamed ones: during a reconnect storm through this instance, a lookup of any other
 * user answers from memory at once instead of waiting for the storm's latest write.
 */
export class WriteFloor {
  /** Writes whose users are unknown: every read waits for them. */
  #floor = 0;
  /** Per user, the highest revision written and not yet known applied. */
  readonly #users = new Map<string, number>();
  /** The writes noted per user, in the order noted, to forget each user once its write is applied. */
  readonly #pending: { revision: number; users: readonly string[] }[] = [];
  #highest = 0;
  readonly #waiters = new Map<() => void, number>();

  /** The revision a read of `users` must see (of every user when undefined). */
  for(users?: Iterable<string>): number {
    if (users === undefined) return this.#highest;
    if (this.#users.size === 0) return this.#floor;
    let floor = this.#floor;
    for (const user of users) floor = Math.max(floor, this.#users.get(user) ?? 0);
    return floor;
  }

  note(revision: number, users?: Iterable<string>): void {
    this.#highest = Math.max(this.#highest, revision);
    // Past either bound (a feed that stopped applying keeps #pending growing), one floor for all.
    if (
      users === undefined ||
      this.#users.size >= MAX_FLOOR_USERS ||
      this.#pending.length >= MAX_FLOOR_USERS
    ) {
      this.#floor = this.#highest;
      this.#users.clear();
      this.#pending.length = 0;
      return;
    }
    const named = [...users];
    for (const user of named) this.#users.set(user, Math.max(revision, this.#users.get(user) ?? 0));
    this.#pending.push({ revision, users: named });
  }

  /** A source whose revision went backwards makes every noted write meaningless. */
  reset(): void {
    this.#floor = 0;
    this.#highest = 0;
    this.#users.clear();
    this.#pending.length = 0;
  }

  /**
   * Waits (at most `timeoutMs`) until `applied()` reaches the floor of `users` as it is now, and answers
   * that floor. Writes noted later are concurrent with the caller's read and need not be in its answer;
   * waiting for them too would, under a steady stream of writes, never end.
   */
  async wait(timeoutMs: number, applied: () => number, users?: Iterable<string>): Promise<number> {
    const floor = this.for(users);
    if (applied() >= floor) return floor;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.#waiters.set(done, floor);
    });
    return floor;
  }

  /** Wakes the waiters whose floor `revision` reaches, and forgets the users it brings up to date. */
  applied(revision: number): void {
    // Noted out of revision order, a write waits behind a later one: forgotten late, never early.
    while (this.#pending.length > 0 && this.#pending[0]!.revision <= revision) {
      for (const user of this.#pending.shift()!.users) {
        if ((this.#users.get(user) ?? 0) <= revision) this.#users.delete(user);
      }
    }
    for (const [wake, floor] of this.#waiters) if (revision >= floor) wake();
  }

  wakeAll(): void {
    for (const wake of this.#waiters.keys()) wake();
  }
}
