import { sleep } from "@im-core/common";
import { describe, expect, it, vi } from "vitest";
import { startObservedServer } from "../testing/observed-server.js";
import { MetricsTextCache } from "./metrics-text-cache.js";

describe("MetricsTextCache", () => {
  it("lets concurrent scrapes share one render and serves its text until it is maxAgeMs old", async () => {
    let renders = 0;
    const cache = new MetricsTextCache(async () => {
      renders += 1;
      await sleep(20);
      return `render ${renders}`;
    }, 100);
    const texts = await Promise.all(Array.from({ length: 50 }, () => cache.text()));
    expect(new Set(texts)).toEqual(new Set(["render 1"]));
    expect(await cache.text()).toBe("render 1");
    await sleep(120);
    expect(await cache.text()).toBe("render 2");
    expect(renders).toBe(2);
  });

  it("keeps no failed render: the next scrape renders again", async () => {
    const render = vi.fn<() => Promise<string>>().mockRejectedValueOnce(new Error("collect failed"));
    render.mockResolvedValue("text");
    const cache = new MetricsTextCache(render, 1_000);
    await expect(Promise.all([cache.text(), cache.text()])).rejects.toThrow("collect failed");
    expect(await cache.text()).toBe("text");
    expect(render).toHaveBeenCalledTimes(2);
  });
});

describe("GET /metrics of a server", () => {
  it("renders at most once per interval however many scrapes come", async () => {
    const { server, baseUrl } = await startObservedServer({ metricsMaxAgeMs: 1_000 });
    const render = vi.spyOn(server.metrics.registry, "metrics");
    try {
      const responses = await Promise.all(
        Array.from({ length: 200 }, async () => {
          const response = await fetch(`${baseUrl}/metrics`);
          return { status: response.status, text: await response.text() };
        }),
      );
      expect(responses.every(({ status }) => status === 200)).toBe(true);
      expect(responses[0]?.text).toContain("rpc_calls_total");
      expect(render.mock.calls.length).toBeLessThanOrEqual(2);
    } finally {
      await server.close();
    }
  });
});
