/**
 * The model shipped in models/ (what `npm run train` last exported), wired for the Worker bundle:
 * the ORT runtime as a CompiledWasm module, the graph as a Data module, the metadata as JSON.
 * Only Worker code imports this file (Node has no module rules for .wasm/.onnx).
 *
 * The runtime is onnxruntime-web 1.12.1's plain ort-wasm.wasm (7.4 MB, 2.07 MB gzip), the build onnx.ts drives:
 * it keeps the Worker inside the free plan's 3 MiB gzip upload limit (docs/bundle.md).
 */
import ortWasm from "ort-web-1.12/dist/ort-wasm.wasm";
import modelMeta from "../../models/mid60.json";
import modelData from "../../models/mid60.onnx";
import { createOnnxPredictor, type OnnxPredictor } from "./onnx.js";
import { NoChangePredictor, type ModelMeta, type Predictor } from "./predictor.js";

/** The ONNX runtime (a compiled `WebAssembly.Module`) that `createOnnxPredictor` expects as `wasmModule`. */
export const ORT_WASM: WebAssembly.Module = ortWasm;

/** Metadata of the shipped model (models/mid60.json). */
export const BUNDLED_MODEL_META = modelMeta as unknown as ModelMeta;

let loading: Promise<OnnxPredictor> | null = null;

/** The shipped ONNX model, loaded once per isolate (~200 ms the first time); rejects if it cannot be loaded. */
export function loadBundledPredictor(): Promise<OnnxPredictor> {
  loading ??= createOnnxPredictor({ wasmModule: ortWasm, model: modelData, meta: BUNDLED_MODEL_META }).catch(
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
