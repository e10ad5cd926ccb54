/**
 * The Prediction v2 model shipped in models/ (what `bash training/evaluate.sh` last exported), wired for the Worker
 * bundle like bundled.ts: the graph as a Data module, its metadata as JSON, the runtime from runtime.ts (one
 * onnxruntime-web start per isolate serves both). Only Worker code imports this file.
 */
import modelMeta from "../../models/predict-v2.json";
import modelData from "../../models/predict-v2.onnx";
import { ORT_WASM } from "./runtime.js";
import { NoChangeMultiModel, type MultiModelMeta } from "./multi.js";
import { createOnnxMultiModel, type OnnxMultiModel } from "./onnx.js";

/** Metadata of the shipped multi-horizon model (models/predict-v2.json): horizons, decisions, fallback bands. */
export const BUNDLED_V2_META = modelMeta as unknown as MultiModelMeta;

let loading: Promise<OnnxMultiModel> | null = null;

/** The shipped multi-horizon ONNX model, loaded once per isolate; rejects if it cannot be loaded. */
export function loadBundledMultiModel(): Promise<OnnxMultiModel> {
  loading ??= createOnnxMultiModel({ wasmModule: ORT_WASM, model: modelData, meta: BUNDLED_V2_META }).catch(
    (e: unknown) => {
      loading = null;
      throw e;
    },
  );
  return loading;
}

/** Served while the model loads or if it fails: no-change with the shipped constant band per horizon. */
export function fallbackMultiModel(): NoChangeMultiModel {
  return NoChangeMultiModel.fallbackFor(BUNDLED_V2_META);
}
