import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // The short chaos run starts a whole deployment (three etcd members, two Redis, MariaDB, four service
    // processes): one file at a time, and room for a cold 2-core machine to start and heal everything.
    fileParallelism: false,
    testTimeout: 300_000,
    hookTimeout: 120_000,
  },
});
