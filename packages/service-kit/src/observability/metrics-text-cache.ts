/**
 * The Prometheus text of `/metrics`, rendered at most once per `maxAgeMs`: rendering every series costs
 * about a millisecond of CPU, so an unauthenticated scrape flood rendering per request took a service
 * to 100 % CPU. Scrapes while a render runs share it (single flight); scrapes within `maxAgeMs` of a
 * render's start get its text. A failed render is not kept: the next scrape tries again.
 */
export class MetricsTextCache {
  #text: { value: string; renderedAt: number } | undefined;
  #rendering: Promise<string> | undefined;

  constructor(
    private readonly render: () => Promise<string>,
    private readonly maxAgeMs: number,
  ) {}

  text(): Promise<string> {
    if (this.#text !== undefined && performance.now() - this.#text.renderedAt < this.maxAgeMs) {
      return Promise.resolve(this.#text.value);
    }
    this.#rendering ??= this.#renderOnce();
    return this.#rendering;
  }

  async #renderOnce(): Promise<string> {
    const startedAt = performance.now();
    try {
      const value = await this.render();
      this.#text = { value, renderedAt: startedAt };
      return value;
    } finally {
      this.#rendering = undefined;
    }
  }
}
