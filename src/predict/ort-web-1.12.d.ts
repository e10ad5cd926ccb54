// Types for the deep import of onnxruntime-web 1.12.1's WASM-only bundle (npm alias `ort-web-1.12`, see onnx.ts):
// the package's own types (onnxruntime-common 1.12.1) describe it; its `dist/ort-wasm.wasm` is typed by modules.d.ts.
declare module "ort-web-1.12/dist/ort.wasm.min.js" {
  export * from "ort-web-1.12";
}
