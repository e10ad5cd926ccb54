/**
 * ONNX forecaster on onnxruntime-web's WASM backend inside workerd.
 *
 * Runtime: onnxruntime-web **1.12.1**, its plain `ort-wasm.wasm` (no SIMD, no threads), installed under the npm
 * alias `ort-web-1.12`. It is the smallest published build that runs the shipped graphs (ONNX opset 17 +
 * ai.onnx.ml Scaler/LinearRegressor; 1.11 and older stop at opset 16) and it keeps the Worker inside the free plan's
 * 3 MiB gzip limit: 7.4 MB raw / 2.07 MB gzip, against 14.2 MB / 3.68 MB for 1.30's only build,
 * ort-wasm-simd-threaded.wasm. Measurements and the other candidates: docs/bundle.md. Its outputs equal Python
 * onnxruntime 1.30's within 1e-5 (test/predict.workers.test.ts); a linear model gains nothing from SIMD or threads.
 *
 * Starting it in workerd. workerd refuses to compile WebAssembly from bytes at run time; a Worker gets compiled
 * modules only by importing a `.wasm` file (wrangler's CompiledWasm rule), which yields a `WebAssembly.Module`.
 * onnxruntime-web 1.12 takes neither a module nor bytes: it builds the Emscripten config itself and its glue
 * fetches the file named by `env.wasm.wasmPaths`, then calls `WebAssembly.instantiate(bytes, imports)` (or
 * `instantiateStreaming(response, imports)`). So, only while ORT initialises (the first session creation):
 * - `wasmPaths` names a sentinel URL under the reserved `.invalid` TLD, and `fetch` of exactly that URL answers
 *   with a private random sentinel body without touching the network (every other fetch passes through);
 * - `WebAssembly.instantiate` on exactly those sentinel bytes (and `instantiateStreaming` on that very
 *   response) instantiates the precompiled module instead (instantiating a Module is allowed); every other call
 *   passes through untouched;
 * - the 2022 Emscripten glue picks its environment from globals when it starts: with `nodejs_compat` workerd has
 *   a Node-like `process`, which would send it down its Node path (require("fs"), process.on handlers). So
 *   `globalThis.process` is hidden and `globalThis.window` defined (its browser path: fetch + instantiate)
 *   from the call that starts ORT until the glue's fetch, which happens synchronously right after it has
 *   looked (only microtasks run in between, so no other request of the isolate can observe it).
 * Everything is restored as soon as initialisation settles (the globals at the fetch, or on failure).
 *
 * Other settings that matter in workerd: `numThreads = 1` (no SharedArrayBuffer workers), `simd = false` (selects
 * ort-wasm.wasm, the file we ship) and `proxy = false` (no Web Worker).
 */
import * as ort from "ort-web-1.12/dist/ort.wasm.min.js";
import type { HeadForecast, OnlineSlopeOptions } from "./horizon.js";
import { assertMultiCompatible, type MultiHorizonModel, type MultiModelMeta } from "./multi.js";
import type { Forecast, ModelMeta, Predictor } from "./predictor.js";
import { assertCompatible } from "./predictor.js";

/** The onnxruntime-web build this file drives (runtime.ts imports its wasm). */
export const ORT_RUNTIME = { package: "onnxruntime-web", version: "1.12.1", wasm: "ort-wasm.wasm" } as const;

/** ORT's runtime initialisation is per isolate and happens once; later sessions wait for it. */
let ortReady: Promise<void> | null = null;

/** Where ORT is told the wasm lives: never fetched for real (`.invalid` cannot resolve), see the header. */
const SENTINEL_URL = `https://onnxruntime-wasm.invalid/${ORT_RUNTIME.wasm}`;

function configureEnv(): void {
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.simd = false;
  ort.env.wasm.proxy = false;
  ort.env.wasm.wasmPaths = { [ORT_RUNTIME.wasm]: SENTINEL_URL };
}

type Instantiate = typeof WebAssembly.instantiate;
/** Not in workerd today (nor in its types); routed too in case a future workerd has it and the glue uses it. */
type InstantiateStreaming = (
  source: Response | PromiseLike<Response>,
  imports?: WebAssembly.Imports,
) => Promise<unknown>;
const streamingHost = WebAssembly as unknown as { instantiateStreaming?: InstantiateStreaming };

function sameBytes(source: unknown, sentinel: Uint8Array): boolean {
  let b: Uint8Array;
  if (source instanceof ArrayBuffer) b = new Uint8Array(source);
  else if (ArrayBuffer.isView(source)) b = new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
  else return false;
  return b.length === sentinel.length && b.every((x, i) => x === sentinel[i]);
}

/** Hide `process`, define `window`; returns the undo (idempotent). */
function browserLikeGlobals(): () => void {
  const g = globalThis as Record<string, unknown>;
  const undo: (() => void)[] = [];
  const proc = Object.getOwnPropertyDescriptor(g, "process");
  if (proc?.configurable) {
    Object.defineProperty(g, "process", { value: undefined, configurable: true, writable: true });
    undo.push(() => Object.defineProperty(g, "process", proc));
  }
  if (!("window" in g)) {
    Object.defineProperty(g, "window", { value: g, configurable: true, writable: true });
    undo.push(() => delete g.window);
  }
  let done = false;
  return () => {
    if (done) return;
    done = true;
    for (const u of undo.reverse()) u();
  };
}

/**
 * Run `fn` (the first session creation, which initialises ORT) with the wasm fetch and instantiation routed to
 * the precompiled module (see the header).
 */
async function withPrecompiledRuntime<T>(wasmModule: WebAssembly.Module, fn: () => Promise<T>): Promise<T> {
  const sentinel = crypto.getRandomValues(new Uint8Array(16));
  const originalFetch = globalThis.fetch;
  const originalInstantiate: Instantiate = WebAssembly.instantiate;
  const originalStreaming = streamingHost.instantiateStreaming;
  let sentinelResponse: Response | null = null;
  const instantiatePrecompiled = (imports?: WebAssembly.Imports) =>
    originalInstantiate(wasmModule, imports).then(
      (instance) => ({ module: wasmModule, instance }), // the shape of instantiating from bytes
      (e: unknown) => {
        throw new Error(
          `the wasm module given is not ${ORT_RUNTIME.package} ${ORT_RUNTIME.version}'s ${ORT_RUNTIME.wasm} (use ORT_WASM from runtime.ts)`,
          { cause: e },
        );
      },
    );

  const fetchRouted = function (this: unknown, input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
    const url = input instanceof Request ? input.url : String(input);
    if (url === SENTINEL_URL) {
      restoreGlobals(); // the glue has chosen its environment by now
      sentinelResponse = new Response(sentinel, { headers: { "content-type": "application/wasm" } });
      return Promise.resolve(sentinelResponse);
    }
    return originalFetch.call(globalThis, input, init);
  } as typeof fetch;
  const instantiateRouted = function (this: unknown, source: unknown, imports?: WebAssembly.Imports): Promise<unknown> {
    if (sameBytes(source, sentinel)) return instantiatePrecompiled(imports);
    return (originalInstantiate as (...a: unknown[]) => Promise<unknown>).call(WebAssembly, source, imports);
  } as Instantiate;
  const streamingRouted: InstantiateStreaming = async function (this: unknown, source, imports) {
    const resp = await source;
    if (resp === sentinelResponse) return instantiatePrecompiled(imports);
    return originalStreaming!.call(WebAssembly, resp, imports);
  };

  const restoreGlobals = browserLikeGlobals();
  globalThis.fetch = fetchRouted;
  WebAssembly.instantiate = instantiateRouted;
  if (originalStreaming) streamingHost.instantiateStreaming = streamingRouted;
  try {
    return await fn();
  } finally {
    restoreGlobals();
    if (globalThis.fetch === fetchRouted) globalThis.fetch = originalFetch;
    if (WebAssembly.instantiate === instantiateRouted) WebAssembly.instantiate = originalInstantiate;
    if (originalStreaming && streamingHost.instantiateStreaming === streamingRouted)
      streamingHost.instantiateStreaming = originalStreaming;
  }
}

/** Inputs for `createOnnxPredictor`. */
export interface OnnxPredictorOptions {
  /** The runtime as a CompiledWasm module: `ORT_WASM` from runtime.ts (onnxruntime-web 1.12.1's ort-wasm.wasm). */
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
    if (features.length !== this.width)
      throw new Error(`${this.name}: expected ${this.width} features, got ${features.length}`);
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
    if (!Number.isInteger(n))
      throw new Error(`${this.name}: batch length ${rows.length} is not a multiple of ${this.width}`);
    const out = await this.session.run({ [this.inputName]: new ort.Tensor("float32", rows, [n, this.width]) });
    const r = out[this.outRet]!.data as Float32Array;
    const lo = out[this.outLow]!.data as Float32Array;
    const hi = out[this.outHigh]!.data as Float32Array;
    return Array.from({ length: n }, (_, i) => ({ returnBps: r[i]!, lowBps: lo[i]!, highBps: hi[i]! }));
  }

  /** Free the session's WASM memory (1.12 has no `InferenceSession.release()`; its session handler frees it). */
  async dispose(): Promise<void> {
    await (this.session as unknown as { handler: { dispose(): Promise<void> } }).handler.dispose();
  }
}

/**
 * Load an ONNX model into onnxruntime-web. The first call in an isolate also starts ORT's WASM runtime from the
 * precompiled module (~100-200 ms in total, once); later calls only build a session. Throws if the model was trained on
 * other features than this build computes.
 */
export async function createOnnxPredictor(o: OnnxPredictorOptions): Promise<OnnxPredictor> {
  assertCompatible(o.meta);
  const { session, createMs } = await createSession(o.wasmModule, o.model);
  return new OnnxPredictor(session, o.meta, createMs);
}

/**
 * An InferenceSession on the precompiled runtime. The first call in an isolate also starts ORT's WASM runtime
 * (~100-200 ms in total, once); later calls only build a session.
 */
async function createSession(
  wasmModule: WebAssembly.Module,
  model: ArrayBuffer | Uint8Array,
): Promise<{ session: ort.InferenceSession; createMs: number }> {
  const bytes = model instanceof Uint8Array ? model : new Uint8Array(model);
  const t0 = Date.now();
  const create = () =>
    ort.InferenceSession.create(bytes, {
      executionProviders: ["wasm"],
      graphOptimizationLevel: "all",
      enableCpuMemArena: false,
    });
  let session: ort.InferenceSession;
  if (ortReady === null) {
    configureEnv();
    const first = withPrecompiledRuntime(wasmModule, create);
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
  return { session, createMs: Date.now() - t0 };
}

export interface OnnxMultiModelOptions {
  /** onnxruntime-web 1.12.1's ort-wasm.wasm as a compiled module (runtime.ts's ORT_WASM). */
  readonly wasmModule: WebAssembly.Module;
  /** The graph (models/predict-v2.onnx). */
  readonly model: ArrayBuffer | Uint8Array;
  readonly meta: MultiModelMeta;
}

/** The Prediction v2 graph: one session, one `session.run` per forecast, three outputs per horizon. */
export class OnnxMultiModel implements MultiHorizonModel {
  readonly name: string;
  readonly version: string;
  readonly featureVersion: string;
  readonly horizonsSec: readonly number[];
  readonly pointIsNoChange: readonly boolean[];
  readonly onlineSlope: readonly (OnlineSlopeOptions | null)[];
  private readonly inputName: string;
  private readonly heads: MultiModelMeta["heads"];
  private readonly width: number;

  /** Use `createOnnxMultiModel`. */
  constructor(
    private readonly session: ort.InferenceSession,
    meta: MultiModelMeta,
    /** Wall time of the session creation, ms. */
    readonly createMs: number,
  ) {
    this.name = meta.name;
    this.version = meta.version;
    this.featureVersion = meta.featureVersion;
    this.heads = meta.heads;
    this.horizonsSec = meta.heads.map((h) => h.horizonSec);
    this.pointIsNoChange = meta.heads.map((h) => h.point === "no-change");
    this.onlineSlope = meta.heads.map((h) => h.onlineSlope ?? null);
    this.inputName = meta.onnx.input.name;
    this.width = meta.featureNames.length;
  }

  /** One `session.run` on a [1, F] float32 tensor. */
  async predict(features: Float32Array): Promise<HeadForecast[]> {
    return (await this.predictBatch(features))[0]!;
  }

  /** Forecasts for several rows in one run (tests); rows are concatenated feature vectors. */
  async predictBatch(rows: Float32Array): Promise<HeadForecast[][]> {
    const n = rows.length / this.width;
    if (!Number.isInteger(n) || n === 0)
      throw new Error(`${this.name}: expected a multiple of ${this.width} features, got ${rows.length}`);
    const out = await this.session.run({ [this.inputName]: new ort.Tensor("float32", rows, [n, this.width]) });
    const col = (name: string) => {
      const t = out[name];
      if (!t) throw new Error(`${this.name}: the graph has no output ${name}`);
      return t.data as Float32Array;
    };
    const cols = this.heads.map(
      (h) => [col(h.outputs.returnBps), col(h.outputs.lowBps), col(h.outputs.highBps)] as const,
    );
    return Array.from({ length: n }, (_, i) =>
      cols.map(([r, lo, hi]) => ({ returnBps: r[i]!, lowBps: lo[i]!, highBps: hi[i]! })),
    );
  }
}

/** Load the Prediction v2 graph; throws if it was trained on other features than this build computes. */
export async function createOnnxMultiModel(o: OnnxMultiModelOptions): Promise<OnnxMultiModel> {
  assertMultiCompatible(o.meta);
  const { session, createMs } = await createSession(o.wasmModule, o.model);
  return new OnnxMultiModel(session, o.meta, createMs);
}
