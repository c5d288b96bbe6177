import { defineConfig } from "vitest/config";

export default defineConfig({
  // Tests start real etcd / Redis / MariaDB processes: generous hooks, bounded cases.
  test: { testTimeout: 30_000, hookTimeout: 30_000 },
});
