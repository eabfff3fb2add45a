import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Minutes-long faults with servers of their own: npm run test:faults.
    exclude: ["test/faults/**", "**/node_modules/**"],
    // Starts an embedded PostgreSQL for the run when DATABASE_URL is unset; each file then creates
    // its own database (test/helpers/db.ts).
    globalSetup: ["test/helpers/global-setup.ts"],
    // Worker processes and real timing: keep files from starving each other on a 2-core machine.
    fileParallelism: true,
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
