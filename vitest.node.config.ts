import { defineConfig } from "vitest/config";

// Pure code, the local exchange and the CLIs run in Node; Worker code is tested inside workerd
// by vitest.workers.config.ts (and the fan-out shard tests by vitest.shards.config.ts).
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // test/e2e runs a browser against the whole stack: vitest.e2e.config.ts (`npm run test:e2e`).
    exclude: ["test/**/*.workers.test.ts", "test/**/*.shards.test.ts", "test/e2e/**", "node_modules/**"],
    testTimeout: 30_000,
  },
});
