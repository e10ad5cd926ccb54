/**
 * ONNX forecaster on onnxruntime-web (WASM backend) inside workerd.
 *
 * workerd refuses to compile WebAssembly from bytes at run time; a Worker gets compiled modules only by importing
 * a `.wasm` file (wrangler's CompiledWasm rule), which yields a `WebAssembly.Module`. onnxruntime-web 1.30 has no
 * option that accepts a compiled module: its only hook, `env.wasm.wasmBinary`, makes its Emscripten glue call
 * `WebAssembly.instantiate(new Uint8Array(wasmBinary), imports)` (and it builds the Emscripten config itself, so
 * `instantiateWasm` cannot be passed in). So `wasmBinary` is set to a private sentinel buffer and, while ORT
 * initialises, `WebAssembly.instantiate` is wrapped: a call on exactly that sentinel instantiates the precompiled
 * module instead (instantiating a Module is allowed); every other call passes through untouched, and the original
 * function is restored as soon as initialisation settles.
 *
 * Other settings that matter in workerd: the `onnxruntime-web/wasm` entry (the plain WASM backend with the glue
 * bundled in, so nothing is fetched or dynamically imported), `numThreads = 1` (no SharedArrayBuffer workers)
 * and `proxy = false` (no Web Worker).
 */
import * as ort from "onnxruntime-web/wasm";
import type { Forecast, ModelMeta, Predictor } from "./predictor.js";
import { assertCompatible } from "./predictor.js";

/** ORT's runtime initialisation is per isolate and happens once; later sessions wait for it. */
let ortReady: Promise<void> | null = null;

function configureEnv(): ArrayBuffer {
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.proxy = false;
  const sentinel = new ArrayBuffer(8);
  ort.env.wasm.wasmBinary = sentinel;
  return sentinel;
}

type Instantiate = typeof WebAssembly.instantiate;

/**
 * Run `fn` (the first session creation, which initialises ORT) with `WebAssembly.instantiate` routed to the
 * precompiled module for the sentinel buffer only.
 */
async function withPrecompiledInstantiate<T>(sentinel: ArrayBuffer, wasmModule: WebAssembly.Module, fn: () => Promise<T>): Promise<T> {
  const original: Instantiate = WebAssembly.instantiate;
  const routed = function (this: unknown, source: unknown, imports?: WebAssembly.Imports): Promise<unknown> {
    const isSentinel = source === sentinel || (ArrayBuffer.isView(source) && source.buffer === sentinel);
    if (isSentinel) {
      // Same result shape as instantiating from bytes: { module, instance }.
      return original(wasmModule, imports).then((instance) => ({ module: wasmModule, instance }));
    }
    return (original as (...a: unknown[]) => Promise<unknown>).call(WebAssembly, source, imports);
  } as Instantiate;
  WebAssembly.instantiate = routed;
  try {
    return await fn();
  } finally {
    if (WebAssembly.instantiate === routed) WebAssembly.instantiate = original;
  }
}

/** Inputs for `createOnnxPredictor`. */
export interface OnnxPredictorOptions {
  /** `import wasm from "onnxruntime-web/ort-wasm-simd-threaded.wasm"` (CompiledWasm module). */
  readonly wasmModule: WebAssembly.Module;
  /** The .onnx file's bytes (`import model from "../../models/mid60.onnx"`, a Data module). */
  readonly model: ArrayBuffer | Uint8Array;
  /** Its metadata (models/NAME.json). */
  readonly meta: ModelMeta;
}

/** A loaded model: one InferenceSession, one `run` per forecast. */
export class OnnxPredictor implements Predictor {
  readonly name: string;
  readonly version: string;
  readonly horizonSec: number;
  readonly featureVersion: string;
  /** Wall time of `InferenceSession.create` (includes ORT's one-off runtime start for the first model), ms. */
  readonly createMs: number;
  private readonly inputName: string;
  private readonly outRet: string;
  private readonly outLow: string;
  private readonly outHigh: string;
  private readonly width: number;

  /** Use `createOnnxPredictor`. */
  constructor(
    private readonly session: ort.InferenceSession,
    meta: ModelMeta,
    createMs: number,
  ) {
    this.name = meta.name;
    this.version = meta.version;
    this.horizonSec = meta.horizonSec;
    this.featureVersion = meta.featureVersion;
    this.createMs = createMs;
    this.inputName = meta.onnx.input.name;
    this.outRet = meta.onnx.outputs.returnBps;
    this.outLow = meta.onnx.outputs.lowBps;
    this.outHigh = meta.onnx.outputs.highBps;
    this.width = meta.featureNames.length;
  }

  /** One `session.run` on a [1, F] float32 tensor; the three [1, 1] outputs become the forecast. */
  async predict(features: Float32Array): Promise<Forecast> {
    if (features.length !== this.width) throw new Error(`${this.name}: expected ${this.width} features, got ${features.length}`);
    const input = new ort.Tensor("float32", features, [1, this.width]);
    const out = await this.session.run({ [this.inputName]: input });
    return {
      returnBps: Number(out[this.outRet]!.data[0]),
      lowBps: Number(out[this.outLow]!.data[0]),
      highBps: Number(out[this.outHigh]!.data[0]),
    };
  }

  /** Forecasts for several rows in one run (tests and batch scoring); rows are concatenated feature vectors. */
  async predictBatch(rows: Float32Array): Promise<Forecast[]> {
    const n = rows.length / this.width;
    if (!Number.isInteger(n)) throw new Error(`${this.name}: batch length ${rows.length} is not a multiple of ${this.width}`);
    const out = await this.session.run({ [this.inputName]: new ort.Tensor("float32", rows, [n, this.width]) });
    const r = out[this.outRet]!.data as Float32Array;
    const lo = out[this.outLow]!.data as Float32Array;
    const hi = out[this.outHigh]!.data as Float32Array;
    return Array.from({ length: n }, (_, i) => ({ returnBps: r[i]!, lowBps: lo[i]!, highBps: hi[i]! }));
  }

  /** Free the session's WASM memory. */
  async dispose(): Promise<void> {
    await this.session.release();
  }
}

/**
 * Load an ONNX model into onnxruntime-web. The first call in an isolate also starts ORT's WASM runtime from the
 * precompiled module (~200 ms in total, once); later calls only build a session. Throws if the model was trained on
 * other features than this build computes.
 */
export async function createOnnxPredictor(o: OnnxPredictorOptions): Promise<OnnxPredictor> {
  assertCompatible(o.meta);
  const bytes = o.model instanceof Uint8Array ? o.model : new Uint8Array(o.model);
  const t0 = Date.now();
  const create = () =>
    ort.InferenceSession.create(bytes, { executionProviders: ["wasm"], graphOptimizationLevel: "all", enableCpuMemArena: false });
  let session: ort.InferenceSession;
  if (ortReady === null) {
    const sentinel = configureEnv();
    const first = withPrecompiledInstantiate(sentinel, o.wasmModule, create);
    ortReady = first.then(
      () => undefined,
      (e) => {
        ortReady = null; // allow a retry (ORT itself may refuse: it remembers a failed start)
        throw e;
      },
    );
    session = await first;
  } else {
    // The runtime is already up (from the same package's binary); only the session is new.
    await ortReady;
    session = await create();
  }
  return new OnnxPredictor(session, o.meta, Date.now() - t0);
}
