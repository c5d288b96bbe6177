import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts"],
    // Real servers: a start takes 0.1–2 s, a cluster election or a full sync a few seconds more.
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
