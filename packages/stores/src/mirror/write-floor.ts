/**
 * Read-your-writes for a mirror's owner: the highest revision the owner wrote itself (`note`), and
 * waiters that want the mirror to have applied it before they read.
 */
export class WriteFloor {
  #floor = 0;
  readonly #waiters = new Map<() => void, number>();

  get value(): number {
    return this.#floor;
  }

  note(revision: number): void {
    this.#floor = Math.max(this.#floor, revision);
  }

  /** A source whose revision went backwards makes every noted write meaningless. */
  reset(): void {
    this.#floor = 0;
  }

  /**
   * Waits (at most `timeoutMs`) until `applied()` reaches the floor as it is now, and answers that floor.
   * Writes noted later are concurrent with the caller's read and need not be in its answer; waiting for
   * them too would, under a steady stream of writes, never end.
   */
  async wait(timeoutMs: number, applied: () => number): Promise<number> {
    const floor = this.#floor;
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

  /** Wakes the waiters whose floor `revision` reaches. */
  applied(revision: number): void {
    for (const [wake, floor] of this.#waiters) if (revision >= floor) wake();
  }

  wakeAll(): void {
    for (const wake of this.#waiters.keys()) wake();
  }
}
