import { defineConfig } from "vitest/config";

export default defineConfig({
  // Tests run real etcd processes and servers; cases inside a file run concurrently on one etcd. They
  // mostly wait on those processes, so files run side by side even on a 2-core machine.
  test: { testTimeout: 30_000, hookTimeout: 30_000, maxWorkers: 3 },
});
