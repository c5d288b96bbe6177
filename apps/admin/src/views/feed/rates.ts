/**
 * Counts events per type per whole second of arrival, keeping the last minute: "PUT/s" shows the last
 * completed second (the current one is still filling), totals count everything since the feed began.
 */
export class EventRates {
  private readonly seconds = new Map<number, { puts: number; deletes: number }>();
  totalPuts = 0;
  totalDeletes = 0;

  constructor(private readonly now: () => number = Date.now) {}

  add(type: "put" | "delete", at = this.now()): void {
    const second = Math.floor(at / 1000);
    const bucket = this.seconds.get(second) ?? { puts: 0, deletes: 0 };
    if (type === "put") {
      bucket.puts++;
      this.totalPuts++;
    } else {
      bucket.deletes++;
      this.totalDeletes++;
    }
    this.seconds.set(second, bucket);
    for (const old of this.seconds.keys()) if (old < second - 60) this.seconds.delete(old);
  }

  /** Events that arrived during the last completed second. */
  lastSecond(at = this.now()): { puts: number; deletes: number } {
    return this.seconds.get(Math.floor(at / 1000) - 1) ?? { puts: 0, deletes: 0 };
  }

  /** The busiest completed second of the last minute, for a sense of scale next to the current rate. */
  peak(at = this.now()): { puts: number; deletes: number } {
    const current = Math.floor(at / 1000);
    let puts = 0;
    let deletes = 0;
    for (const [second, bucket] of this.seconds) {
      if (second >= current || second < current - 60) continue;
      puts = Math.max(puts, bucket.puts);
      deletes = Math.max(deletes, bucket.deletes);
    }
    return { puts, deletes };
  }
}
