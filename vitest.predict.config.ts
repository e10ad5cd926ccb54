import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

// ONNX inference inside workerd, on its own (no wrangler.toml, no Durable Objects): the predictor module, the
// onnxruntime-web WASM runtime as a CompiledWasm module and the model as a Data module, under the same module
// rules the Worker bundle needs. `npx vitest run --config vitest.predict.config.ts`
export default defineConfig({
  plugins: [
    cloudflareTest({
      miniflare: {
        compatibilityDate: "2026-04-01",
        compatibilityFlags: ["nodejs_compat"],
        modulesRules: [
          { type: "CompiledWasm", include: ["**/*.wasm"], fallthrough: true },
          { type: "Data", include: ["**/*.onnx"], fallthrough: true },
        ],
      },
    }),
  ],
  test: {
    include: ["test/predict.workers.test.ts"],
    testTimeout: 60_000,
  },
});
