/**
 * ONNX inference inside workerd (run by vitest.workers.config.ts): onnxruntime-web, started from the precompiled
 * WASM module, must reproduce Python onnxruntime's outputs on the same float32 rows (test/fixtures/mid60.expected.json,
 * written by `npm run train`). Also logs session creation and mean session.run times (not asserted: shared CPU).
 */
import { describe, expect, it } from "vitest";
import ridgeMeta from "../models/mid60-ridge.json";
import ridgeModel from "../models/mid60-ridge.onnx";
import shippedMeta from "../models/mid60.json";
import shippedModel from "../models/mid60.onnx";
import { FEATURE_NAMES, FEATURE_VERSION, NUM_FEATURES } from "../src/features/features.js";
// The runtime onnx.ts drives (onnxruntime-web 1.12.1's ort-wasm.wasm, a precompiled module): see docs/bundle.md.
import { fallbackPredictor, loadBundledPredictor } from "../src/predict/bundled.js";
import { ORT_WASM as ortWasm } from "../src/predict/runtime.js";
import { createOnnxPredictor, type OnnxPredictor } from "../src/predict/onnx.js";
import type { ModelMeta } from "../src/predict/predictor.js";
import fixture from "./fixtures/mid60.expected.json";

const models: Record<string, { meta: ModelMeta; bytes: ArrayBuffer }> = {
  mid60: { meta: shippedMeta as unknown as ModelMeta, bytes: shippedModel },
  "mid60-ridge": { meta: ridgeMeta as unknown as ModelMeta, bytes: ridgeModel },
};

/** Wall-clock ms. workerd only advances clocks across I/O, so a timer tick is awaited before reading it. */
async function now(): Promise<number> {
  await new Promise((r) => setTimeout(r, 0));
  return Date.now();
}

const loaded = new Map<string, OnnxPredictor>();
async function load(name: string): Promise<OnnxPredictor> {
  let p = loaded.get(name);
  if (!p) {
    const t0 = await now();
    p = await createOnnxPredictor({ wasmModule: ortWasm, model: models[name]!.bytes, meta: models[name]!.meta });
    console.log(
      `${name}: session created in ${(await now()) - t0} ms (createOnnxPredictor's own clock: ${p.createMs} ms)`,
    );
    loaded.set(name, p);
  }
  return p;
}

describe("onnxruntime-web inside workerd", () => {
  it("the runtime is the precompiled module and the fixture matches today's features", () => {
    expect(ortWasm).toBeInstanceOf(WebAssembly.Module);
    expect(fixture.featureVersion).toBe(FEATURE_VERSION);
    expect(fixture.featureNames).toEqual([...FEATURE_NAMES]);
    expect(fixture.rows.length).toBeGreaterThanOrEqual(16);
  });

  it.each(Object.keys(models))(
    "%s: every fixture row equals Python onnxruntime (1e-5), one run per row",
    async (name) => {
      const fx = (fixture.models as Record<string, { sha256: string; version: string; expected: number[][] }>)[name]!;
      expect(models[name]!.meta.onnx.sha256).toBe(fx.sha256); // the fixture was made from this very file
      const p = await load(name);
      expect(p.version).toBe(fx.version);
      for (let i = 0; i < fixture.rows.length; i++) {
        const f = await p.predict(new Float32Array(fixture.rows[i]!));
        const [ret, lo, hi] = fx.expected[i]!;
        expect(Math.abs(f.returnBps - ret!), `row ${i} return`).toBeLessThanOrEqual(1e-5);
        expect(Math.abs(f.lowBps - lo!), `row ${i} low`).toBeLessThanOrEqual(1e-5);
        expect(Math.abs(f.highBps - hi!), `row ${i} high`).toBeLessThanOrEqual(1e-5);
      }
    },
  );

  it("the ridge graph is not trivially constant, so the parity check above means something", async () => {
    const fx = fixture.models["mid60-ridge"].expected;
    const distinct = new Set(fx.map((r) => r[0]!.toFixed(6)));
    expect(distinct.size).toBeGreaterThan(10);
  });

  it("batched run == per-row runs", async () => {
    const p = await load("mid60-ridge");
    const flat = new Float32Array(fixture.rows.flat());
    const batch = await p.predictBatch(flat);
    expect(batch).toHaveLength(fixture.rows.length);
    for (let i = 0; i < batch.length; i++) {
      const one = await p.predict(new Float32Array(fixture.rows[i]!));
      expect(batch[i]!.returnBps).toBeCloseTo(one.returnBps, 5);
    }
  });

  it("WebAssembly.instantiate is left as it was found", async () => {
    await load("mid60");
    expect(WebAssembly.instantiate.name).toBe("instantiate");
  });

  it("mean session.run time (logged, not asserted)", async () => {
    for (const name of Object.keys(models)) {
      const p = await load(name);
      const x = new Float32Array(fixture.rows[0]!);
      for (let i = 0; i < 2000; i++) await p.predict(x); // warm-up (JIT)
      const n = 5000;
      const t0 = await now();
      for (let i = 0; i < n; i++) await p.predict(x);
      const ms = (await now()) - t0;
      console.log(
        `${name}: mean predict (session.run + tensor wrap) ${((ms * 1000) / n).toFixed(1)} us over ${n} runs`,
      );
    }
  });

  it("refuses a model trained on other features", async () => {
    const meta = { ...models.mid60!.meta, featureVersion: "book-f0" };
    await expect(createOnnxPredictor({ wasmModule: ortWasm, model: shippedModel, meta })).rejects.toThrow(
      /trained on features book-f0/,
    );
    const names = [...models.mid60!.meta.featureNames];
    [names[0], names[1]] = [names[1]!, names[0]!];
    await expect(
      createOnnxPredictor({
        wasmModule: ortWasm,
        model: shippedModel,
        meta: { ...models.mid60!.meta, featureNames: names },
      }),
    ).rejects.toThrow(/expects features/);
    const p = await load("mid60");
    await expect(p.predict(new Float32Array(NUM_FEATURES - 1))).rejects.toThrow(
      new RegExp(`expected ${NUM_FEATURES} features`),
    );
  });

  it("the bundled loader serves the shipped model; its fallback has the same interval", async () => {
    const p = await loadBundledPredictor();
    expect(p.name).toBe(shippedMeta.name);
    expect(p.version).toBe(shippedMeta.version);
    expect(p.horizonSec).toBe(60);
    expect(await loadBundledPredictor()).toBe(p);
    const f = await p.predict(new Float32Array(fixture.rows[3]!));
    const fb = await fallbackPredictor().predict(new Float32Array(NUM_FEATURES));
    if (shippedMeta.kind === "no-change") {
      expect(f.returnBps).toBe(0);
      expect(fb.lowBps).toBeCloseTo(f.lowBps, 4);
      expect(fb.highBps).toBeCloseTo(f.highBps, 4);
    }
  });
});
