import { defineConfig } from "vitest/config";

// Pure code, the local exchange and the CLIs run in Node; Worker code is tested inside workerd
// by vitest.workers.config.ts.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    exclude: ["test/**/*.workers.test.ts", "node_modules/**"],
    testTimeout: 30_000,
  },
});
