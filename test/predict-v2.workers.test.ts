/**
 * Prediction v2 graphs inside workerd (vitest.workers.config.ts): onnxruntime-web 1.12.1, started from the
 * precompiled WASM module, must reproduce Python onnxruntime's outputs (1e-5) on the float32 rows of
 * test/fixtures/predict-v2.expected.json (written by training/export_multi.py) for the shipped graph and for the
 * candidate graph (gradient-boosted trees = ai.onnx.ml TreeEnsembleRegressor, and the venue-scaled linear head), so
 * every operator the training may ship is proven to run on the serving runtime. Logs session creation and the mean
 * `session.run` time (not asserted: shared CPU).
 */
import { describe, expect, it } from "vitest";
import candidateMeta from "../models/predict-v2-candidate.json";
import candidateModel from "../models/predict-v2-candidate.onnx";
import shippedMeta from "../models/predict-v2.json";
import shippedModel from "../models/predict-v2.onnx";
import { FEATURE_NAMES, FEATURE_VERSION, NUM_FEATURES } from "../src/features/features.js";
import { ORT_WASM } from "../src/predict/runtime.js";
import { BUNDLED_V2_META, fallbackMultiModel, loadBundledMultiModel } from "../src/predict/bundled-v2.js";
import type { MultiModelMeta } from "../src/predict/multi.js";
import { createOnnxMultiModel, type OnnxMultiModel } from "../src/predict/onnx.js";
import fixture from "./fixtures/predict-v2.expected.json";

const models: Record<string, { meta: MultiModelMeta; bytes: ArrayBuffer }> = {
  "predict-v2": { meta: shippedMeta as unknown as MultiModelMeta, bytes: shippedModel },
  "predict-v2-candidate": { meta: candidateMeta as unknown as MultiModelMeta, bytes: candidateModel },
};

/** Wall-clock ms. workerd only advances clocks across I/O, so a timer tick is awaited before reading it. */
async function now(): Promise<number> {
  await new Promise((r) => setTimeout(r, 0));
  return Date.now();
}

const loaded = new Map<string, OnnxMultiModel>();
async function load(name: string): Promise<OnnxMultiModel> {
  let m = loaded.get(name);
  if (!m) {
    const t0 = await now();
    m = await createOnnxMultiModel({ wasmModule: ORT_WASM, model: models[name]!.bytes, meta: models[name]!.meta });
    console.log(`${name}: session created in ${(await now()) - t0} ms (${models[name]!.bytes.byteLength} bytes)`);
    loaded.set(name, m);
  }
  return m;
}

describe("Prediction v2 graphs in workerd", () => {
  it("the fixture matches today's features and both graphs", () => {
    expect(fixture.featureVersion).toBe(FEATURE_VERSION);
    expect(fixture.featureNames).toEqual([...FEATURE_NAMES]);
    expect(fixture.rows.length).toBeGreaterThanOrEqual(16);
    for (const [name, m] of Object.entries(models)) {
      const fx = (fixture.models as Record<string, { sha256: string }>)[name]!;
      expect(m.meta.onnx.sha256, name).toBe(fx.sha256); // the fixture was made from this very file
    }
    // every output the fixture lists is a head of the metadata, in order
    const outs = (shippedMeta as unknown as MultiModelMeta).heads.flatMap((h) => [
      h.outputs.returnBps,
      h.outputs.lowBps,
      h.outputs.highBps,
    ]);
    expect(fixture.outputs).toEqual(outs);
  });

  it.each(Object.keys(models))(
    "%s: every fixture row equals Python onnxruntime (1e-5), one run per row",
    async (name) => {
      const fx = (fixture.models as Record<string, { version: string; expected: number[][] }>)[name]!;
      const m = await load(name);
      expect(m.version).toBe(fx.version);
      for (let i = 0; i < fixture.rows.length; i++) {
        const heads = await m.predict(new Float32Array(fixture.rows[i]!));
        const got = heads.flatMap((h) => [h.returnBps, h.lowBps, h.highBps]);
        const want = fx.expected[i]!;
        expect(got).toHaveLength(want.length);
        for (let k = 0; k < want.length; k++) {
          expect(Math.abs(got[k]! - want[k]!), `row ${i} ${fixture.outputs[k]}`).toBeLessThanOrEqual(
            1e-5 * Math.max(1, Math.abs(want[k]!)),
          );
        }
      }
    },
  );

  it("the candidate graph uses tree ensembles and is not constant, so the parity check above means something", () => {
    expect((candidateMeta as unknown as { onnx: { operators: string[] } }).onnx.operators).toContain(
      "ai.onnx.ml:TreeEnsembleRegressor",
    );
    const fx = fixture.models["predict-v2-candidate"].expected;
    for (let k = 0; k < fixture.outputs.length; k++) {
      expect(new Set(fx.map((r) => r[k]!.toFixed(6))).size, fixture.outputs[k]).toBeGreaterThan(4);
    }
  });

  it("batched run == per-row runs", async () => {
    const m = await load("predict-v2-candidate");
    const batch = await m.predictBatch(new Float32Array(fixture.rows.flat()));
    expect(batch).toHaveLength(fixture.rows.length);
    for (let i = 0; i < batch.length; i++) {
      const one = await m.predict(new Float32Array(fixture.rows[i]!));
      expect(batch[i]).toEqual(one);
    }
  });

  it("mean session.run time (logged, not asserted)", async () => {
    for (const name of Object.keys(models)) {
      const m = await load(name);
      const x = new Float32Array(fixture.rows[0]!);
      for (let i = 0; i < 2000; i++) await m.predict(x); // warm-up (JIT)
      const n = 5000;
      const t0 = await now();
      for (let i = 0; i < n; i++) await m.predict(x);
      const ms = (await now()) - t0;
      console.log(
        `${name}: mean predict (session.run + tensor wrap, all horizons) ${((ms * 1000) / n).toFixed(1)} us over ${n} runs`,
      );
    }
  });

  it("refuses a model trained on other features, and a wrong input width", async () => {
    const meta = { ...models["predict-v2"]!.meta, featureVersion: "book-f1" };
    await expect(createOnnxMultiModel({ wasmModule: ORT_WASM, model: shippedModel, meta })).rejects.toThrow(
      /trained on features book-f1/,
    );
    const m = await load("predict-v2");
    await expect(m.predict(new Float32Array(NUM_FEATURES - 1))).rejects.toThrow(/multiple of/);
  });

  it("the bundled loader serves the shipped graph; its fallback is no-change with the shipped constant bands", async () => {
    const m = await loadBundledMultiModel();
    expect(m.version).toBe(BUNDLED_V2_META.version);
    expect(m.horizonsSec).toEqual(BUNDLED_V2_META.heads.map((h) => h.horizonSec));
    // the serving options recorded with each head reach the engine
    expect(m.pointIsNoChange).toEqual(BUNDLED_V2_META.heads.map((h) => h.point === "no-change"));
    expect(m.onlineSlope).toEqual(BUNDLED_V2_META.heads.map((h) => h.onlineSlope ?? null));
    expect(await loadBundledMultiModel()).toBe(m);
    const fb = await fallbackMultiModel().predict(new Float32Array(NUM_FEATURES));
    fb.forEach((f, i) => {
      expect(f.returnBps).toBe(0);
      expect(f.lowBps).toBeCloseTo(BUNDLED_V2_META.heads[i]!.fallbackBand.lowBps, 9);
      expect(f.highBps).toBeCloseTo(BUNDLED_V2_META.heads[i]!.fallbackBand.highBps, 9);
    });
    // a no-change head of the shipped graph forecasts exactly 0 on every row
    const out = await m.predictBatch(new Float32Array(fixture.rows.flat()));
    BUNDLED_V2_META.heads.forEach((h, k) => {
      if (h.point === "no-change") for (const row of out) expect(row[k]!.returnBps).toBe(0);
    });
  });
});
