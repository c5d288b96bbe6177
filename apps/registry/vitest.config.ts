import { defineConfig } from "vitest/config";

export default defineConfig({
  // Tests run real etcd processes and servers; cases inside a file run concurrently on one etcd.
  test: { testTimeout: 30_000, hookTimeout: 30_000 },
});
