import { defineConfig } from "vitest/config";

// The UI end-to-end test: real headless Chromium against the local exchange + `wrangler dev` (test/e2e/).
// `npm run test:e2e` installs Chromium if missing (apt), type-checks and builds web/, then runs this.
export default defineConfig({
  test: {
    include: ["test/e2e/**/*.e2e.test.ts"],
    // One browser and one stack, tests in order; a fork so the exit hook can reap wrangler if the run dies.
    pool: "forks",
    fileParallelism: false,
    sequence: { concurrent: false },
    testTimeout: 90_000,
    hookTimeout: 150_000,
  },
});
