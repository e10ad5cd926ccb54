/**
 * The ONNX runtime for the Worker bundle: onnxruntime-web 1.12.1's plain ort-wasm.wasm (7.4 MB, 2.07 MB gzip) as a
 * CompiledWasm module (workerd forbids compiling WASM from bytes at run time). It keeps the Worker inside the free
 * plan's 3 MiB gzip upload limit (docs/bundle.md). Its own module, so importing it carries no model with it: the
 * served model (bundled-v2.ts) and the v1 model kept for the runtime tests (bundled.ts) each import it.
 */
import ortWasm from "ort-web-1.12/dist/ort-wasm.wasm";

/** The ONNX runtime (a compiled `WebAssembly.Module`) that the ONNX model loaders in onnx.ts expect. */
export const ORT_WASM: WebAssembly.Module = ortWasm;
