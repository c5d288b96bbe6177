/** How many distinct keys an {@link Interner} holds before it starts over. */
export const DEFAULT_INTERNER_CAPACITY = 65_536;

/**
 * Hands out one shared immutable value per key, so that many entries on one gateway node, lease or
 * registration time (the mirror's, a snapshot's) point at one string, bigint or timestamp instead of a
 * copy each: a gateway registers thousands of devices on one lease, in batches that share one time.
 *
 * Keys compare as a Map compares them (by value for strings, numbers and bigints), so two distinct
 * values never share an answer. Bounded: once `capacity` keys are held it forgets them all and starts
 * over, which costs only sharing (values handed out before stay valid), never correctness or memory.
 */
export class Interner<K, V = K> {
  readonly #values = new Map<K, V>();

  constructor(
    private readonly make: (key: K) => V,
    private readonly capacity = DEFAULT_INTERNER_CAPACITY,
  ) {}

  get size(): number {
    return this.#values.size;
  }

  get(key: K): V {
    let value = this.#values.get(key);
    if (value === undefined) {
      if (this.#values.size >= this.capacity) this.#values.clear();
      value = this.make(key);
      this.#values.set(key, value);
    }
    return value;
  }
}

/** An interner whose value is the key itself: the first of equal strings or bigints seen. */
export function canonical<K>(capacity?: number): Interner<K> {
  return new Interner((key: K) => key, capacity);
}
