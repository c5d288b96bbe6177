import { defineConfig } from "vitest/config";

export default defineConfig({
  // The smoke test runs the whole quick bench: real servers, h2load, ~1 minute.
  test: { testTimeout: 180_000, hookTimeout: 60_000 },
});
