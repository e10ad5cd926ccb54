/**
 * The v1 single-horizon model (models/mid60, what `npm run train` exports), wired like bundled-v2.ts: the graph as a
 * Data module, the metadata as JSON, the runtime from runtime.ts. The relay serves the v2 model; this one is kept
 * for the onnxruntime-in-workerd tests (test/predict.workers.test.ts) and the v1 training pipeline, and is not in
 * the Worker bundle (nothing the Worker imports reaches it). Only workerd code imports this file.
 */
import modelMeta from "../../models/mid60.json";
import modelData from "../../models/mid60.onnx";
import { createOnnxPredictor, type OnnxPredictor } from "./onnx.js";
import { NoChangePredictor, type ModelMeta, type Predictor } from "./predictor.js";
import { ORT_WASM } from "./runtime.js";

/** Metadata of the shipped model (models/mid60.json). */
export const BUNDLED_MODEL_META = modelMeta as unknown as ModelMeta;

let loading: Promise<OnnxPredictor> | null = null;

/** The shipped ONNX model, loaded once per isolate (~200 ms the first time); rejects if it cannot be loaded. */
export function loadBundledPredictor(): Promise<OnnxPredictor> {
  loading ??= createOnnxPredictor({ wasmModule: ORT_WASM, model: modelData, meta: BUNDLED_MODEL_META }).catch(
    (e: unknown) => {
      loading = null;
      throw e;
    },
  );
  return loading;
}

/**
 * Fallback while the model loads or if it fails: the no-change forecast with the shipped model's constant
 * training-set quantiles when it is itself no-change, else a symmetric +-`fallbackBps`.
 */
export function fallbackPredictor(fallbackBps = 10): Predictor {
  const m = BUNDLED_MODEL_META as ModelMeta & { coefficients?: Record<string, Record<string, number>> };
  const lo = m.coefficients?.low_bps?.["(intercept)"];
  const hi = m.coefficients?.high_bps?.["(intercept)"];
  const constant = m.kind === "no-change" && lo !== undefined && hi !== undefined && lo <= 0 && hi >= 0;
  return new NoChangePredictor(
    m.horizonSec,
    constant ? lo : -fallbackBps,
    constant ? hi : fallbackBps,
    "no-change-fallback",
    m.version,
  );
}
