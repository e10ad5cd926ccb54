// Module types for the non-JS imports the predictor uses (wrangler rules: *.wasm CompiledWasm, *.onnx Data).
declare module "*.wasm" {
  const module: WebAssembly.Module;
  export default module;
}
declare module "*.onnx" {
  const data: ArrayBuffer;
  export default data;
}
