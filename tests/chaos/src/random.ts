/**
 * A seeded PRNG (mulberry32): the same seed draws the same schedule and the same workload choices, so a
 * run can be replayed. Timing still differs between runs; the faults, their order and parameters do not.
 */
export class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error("pick from an empty list");
    return items[Math.floor(this.next() * items.length)]!;
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  /** A child generator, so each worker draws its own stream whatever the others do. */
  fork(): Random {
    return new Random(Math.floor(this.next() * 4_294_967_296));
  }
}

export function randomSeed(): number {
  return Math.floor(Math.random() * 2_147_483_647);
}
