import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // Attacks load the services on purpose: one file at a time, so two attacks never measure each other.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 90_000,
  },
});
