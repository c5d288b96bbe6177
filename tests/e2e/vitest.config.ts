import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts"],
    globalSetup: ["src/global-setup.ts"],
    // Real servers, two pnpm deploys and an npm install from the registry (~20 s on a cold cache).
    testTimeout: 120_000,
    hookTimeout: 180_000,
  },
});
