import { defineConfig } from "vitest/config";

export default defineConfig({
  // Tests start real Redis / MariaDB processes: generous hooks, bounded cases.
  test: { testTimeout: 30_000, hookTimeout: 30_000 },
});
