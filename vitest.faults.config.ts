import { defineConfig } from "vitest/config";

/**
 * `npm run test:faults`: faults that need a server of their own (restarts, a network namespace)
 * or take minutes. Each file starts what it needs; the global setup still provides the shared server
 * for files that use useTestDatabase().
 */
export default defineConfig({
  test: {
    include: ["test/faults/**/*.test.ts"],
    globalSetup: ["test/helpers/global-setup.ts"],
    fileParallelism: false,
    testTimeout: 900_000,
    hookTimeout: 120_000,
  },
});
