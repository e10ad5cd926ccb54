"""ONNX export of a ModelSet: ONE graph, one float32 input, three outputs.

    input  features   float32 [N, F]   (F = len(FEATURE_NAMES), in the TS feature order)
    output return_bps float32 [N, 1]   predicted log return of the mid over the horizon, bps
    output low_bps    float32 [N, 1]   10% quantile of that return
    output high_bps   float32 [N, 1]   90% quantile

Why one graph rather than three: the Worker then holds one InferenceSession (creation is the ~200 ms cost, paid
once) and makes one `session.run` per snapshot (the per-call overhead dominates a linear model), and the three
heads can never be deployed out of step with each other or with the metadata.

Each head is converted by skl2onnx (Scaler + LinearRegressor from ai.onnx.ml, which onnxruntime-web's default
wasm build runs), then the three graphs are merged side by side with prefixed internal names.
"""
from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import onnx
from onnx import helper
from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType

from pipeline import ModelSet

INPUT = "features"
OUTPUTS = ("return_bps", "low_bps", "high_bps")
# Conservative opsets: everything here exists since opset 13 / ai.onnx.ml 1; onnxruntime-web 1.30 runs them.
TARGET_OPSET = {"": 17, "ai.onnx.ml": 3}


def _head(pipe, n_features: int) -> onnx.ModelProto:
    return to_onnx(pipe, initial_types=[(INPUT, FloatTensorType([None, n_features]))], target_opset=TARGET_OPSET)


def export_modelset(ms: ModelSet, n_features: int, doc: str = "") -> onnx.ModelProto:
    """Merge the three heads into one model with named outputs (see module doc)."""
    nodes, inits, outputs = [], [], []
    opsets: dict[str, int] = {}
    for head_name, pipe in zip(OUTPUTS, (ms.point, ms.low, ms.high)):
        m = _head(pipe, n_features)
        g = m.graph
        prefix = f"{head_name}/"
        rename = {i.name: i.name for i in g.input}

        def nm(x: str) -> str:
            return rename.get(x) or (prefix + x if x else x)

        for init in g.initializer:
            t = onnx.TensorProto()
            t.CopyFrom(init)
            t.name = nm(init.name)
            inits.append(t)
        for node in g.node:
            n = onnx.NodeProto()
            n.CopyFrom(node)
            n.name = prefix + (node.name or node.op_type)
            n.ClearField("input")
            n.ClearField("output")
            n.input.extend(nm(x) for x in node.input)
            n.output.extend(nm(x) for x in node.output)
            nodes.append(n)
        if len(g.output) != 1:
            raise ValueError(f"{head_name}: expected one output, got {[o.name for o in g.output]}")
        nodes.append(helper.make_node("Identity", [nm(g.output[0].name)], [head_name], name=f"{head_name}/out"))
        outputs.append(helper.make_tensor_value_info(head_name, onnx.TensorProto.FLOAT, [None, 1]))
        for op in m.opset_import:
            opsets[op.domain] = max(opsets.get(op.domain, 0), op.version)

    graph = helper.make_graph(
        nodes,
        "tradesim_mid_forecast",
        [helper.make_tensor_value_info(INPUT, onnx.TensorProto.FLOAT, [None, n_features])],
        outputs,
        initializer=inits,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid(d, v) for d, v in sorted(opsets.items())],
        producer_name="tradesim-training",
        doc_string=doc,
    )
    # Same IR version skl2onnx chose for these opsets (onnxruntime-web rejects IR versions newer than it knows).
    model.ir_version = _head(ms.point, n_features).ir_version
    onnx.checker.check_model(model)
    return model


def onnx_bytes(model: onnx.ModelProto) -> bytes:
    return model.SerializeToString()


def sha256(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def run_onnx(model_bytes: bytes, X: np.ndarray) -> np.ndarray:
    """Python onnxruntime reference: [n, 3] float32 outputs for float32 inputs, one row per run (as the Worker does)."""
    import onnxruntime as ort

    sess = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    X32 = np.ascontiguousarray(X, dtype=np.float32)
    out = sess.run(list(OUTPUTS), {INPUT: X32})
    return np.concatenate([np.asarray(o, dtype=np.float32).reshape(-1, 1) for o in out], axis=1)


def describe(model: onnx.ModelProto) -> dict[str, Any]:
    return {
        "ir_version": model.ir_version,
        "opsets": {op.domain or "ai.onnx": op.version for op in model.opset_import},
        "operators": sorted({f"{n.domain or 'ai.onnx'}:{n.op_type}" for n in model.graph.node}),
        "input": {"name": INPUT, "dtype": "float32", "shape": ["N", int(model.graph.input[0].type.tensor_type.shape.dim[1].dim_value)]},
        "outputs": {"returnBps": OUTPUTS[0], "lowBps": OUTPUTS[1], "highBps": OUTPUTS[2]},
    }
