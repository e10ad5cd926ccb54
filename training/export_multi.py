"""Export of the Prediction v2 multi-horizon model: ONE ONNX graph, one float32 input, three outputs per horizon.

    input  features       float32 [N, F]   (F = len(FEATURE_NAMES) of src/features/features.ts, bt-f2)
    output ret_<h>s       float32 [N, 1]   point forecast of the mid log return over h seconds, bps
    output lo_<h>s        float32 [N, 1]   10 % quantile (raw: the relay's conformal tracker calibrates it live)
    output hi_<h>s        float32 [N, 1]   90 % quantile

Linear heads (no-change, ridge, constant / realised-vol / linear-quantile bands) are MatMul + Add (ai.onnx, opset 17);
tree heads are skl2onnx's ai.onnx.ml TreeEnsembleRegressor (ml opset 1). Both run on onnxruntime-web 1.12.1's plain
WASM build (checked in workerd by test/predict-v2.workers.test.ts against the fixture written here).

One graph for all horizons: one session to create (the ~200 ms cold cost) and one `session.run` per forecast.
"""
from __future__ import annotations

import hashlib
import json
import math
import platform
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime
import skl2onnx
import sklearn
from onnx import TensorProto, helper, numpy_helper
from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType

import multi as M

INPUT = "features"
NAME = "predict-v2"
FIXTURE_ROWS_PER_DATASET = 8


def _names(h: int) -> tuple[str, str, str]:
    return f"ret_{h}s", f"lo_{h}s", f"hi_{h}s"


def _linear_nodes(head: M.Linear, out: str, F: int) -> tuple[list[onnx.NodeProto], list[onnx.TensorProto]]:
    w = numpy_helper.from_array(head.w.astype(np.float32).reshape(F, 1), f"{out}/W")
    b = numpy_helper.from_array(np.array([head.b], dtype=np.float32), f"{out}/B")
    return [
        helper.make_node("MatMul", [INPUT, w.name], [f"{out}/xw"], name=f"{out}/matmul"),
        helper.make_node("Add", [f"{out}/xw", b.name], [out], name=f"{out}/add"),
    ], [w, b]


def _scaled_nodes(head: M.ScaledLinear, out: str, F: int) -> tuple[list[onnx.NodeProto], list[onnx.TensorProto]]:
    """out = X @ w_bps + (X @ v + c) * (X @ w_free)."""
    t = {
        "Wb": head.w_bps.astype(np.float32).reshape(F, 1),
        "Wf": head.w_free.astype(np.float32).reshape(F, 1),
        "V": head.v.astype(np.float32).reshape(F, 1),
        "C": np.array([head.c], dtype=np.float32),
    }
    inits = [numpy_helper.from_array(v, f"{out}/{k}") for k, v in t.items()]
    p = f"{out}/"
    nodes = [
        helper.make_node("MatMul", [INPUT, p + "Wb"], [p + "a"], name=p + "mm_bps"),
        helper.make_node("MatMul", [INPUT, p + "V"], [p + "sv"], name=p + "mm_scale"),
        helper.make_node("Add", [p + "sv", p + "C"], [p + "s"], name=p + "add_floor"),
        helper.make_node("MatMul", [INPUT, p + "Wf"], [p + "f"], name=p + "mm_free"),
        helper.make_node("Mul", [p + "s", p + "f"], [p + "sf"], name=p + "mul"),
        helper.make_node("Add", [p + "a", p + "sf"], [out], name=p + "add"),
    ]
    return nodes, inits


def _tree_nodes(head: M.Trees, out: str, F: int) -> tuple[list[onnx.NodeProto], list[onnx.TensorProto], dict[str, int]]:
    m = to_onnx(head.model, initial_types=[(INPUT, FloatTensorType([None, F]))], target_opset={"": 17, "ai.onnx.ml": 1})
    g = m.graph
    prefix = f"{out}/"

    def nm(x: str) -> str:
        return x if x == INPUT or not x else prefix + x

    nodes, inits = [], []
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
    nodes.append(helper.make_node("Identity", [nm(g.output[0].name)], [out], name=f"{out}/out"))
    return nodes, inits, {op.domain: op.version for op in m.opset_import}


def build_graph(heads: list[tuple[int, M.Head, M.Head, M.Head]], F: int, doc: str) -> onnx.ModelProto:
    nodes, inits, outputs = [], [], []
    opsets = {"": 17}
    for h, point, lo, hi in heads:
        for head, out in zip((point, lo, hi), _names(h)):
            if isinstance(head, M.Linear):
                n, i = _linear_nodes(head, out, F)
            elif isinstance(head, M.ScaledLinear):
                n, i = _scaled_nodes(head, out, F)
            else:
                n, i, ops = _tree_nodes(head, out, F)
                for d, v in ops.items():
                    opsets[d] = max(opsets.get(d, 0), v)
            nodes += n
            inits += i
            outputs.append(helper.make_tensor_value_info(out, TensorProto.FLOAT, [None, 1]))
    graph = helper.make_graph(nodes, "tradesim_predict_v2", [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, [None, F])], outputs, initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in sorted(opsets.items())], producer_name="tradesim-training", doc_string=doc)
    model.ir_version = 8  # onnxruntime-web 1.12 reads IR <= 8
    onnx.checker.check_model(model)
    return model


def run_onnx(b: bytes, X: np.ndarray, outs: list[str]) -> np.ndarray:
    sess = onnxruntime.InferenceSession(b, providers=["CPUExecutionProvider"])
    res = sess.run(outs, {INPUT: np.ascontiguousarray(X, dtype=np.float32)})
    return np.concatenate([np.asarray(o, dtype=np.float32).reshape(-1, 1) for o in res], axis=1)


def _fit(family: str, kind: str, pooled: M.Data, w: np.ndarray, h: int, parts: list[M.Data]):
    from evaluate import fit_band, fit_point  # noqa: PLC0415 (same families as the evaluation)

    if kind == "point":
        return fit_point(family, pooled, w, h, parts)[0]
    lo, hi, _ = fit_band(family, pooled, w, h)
    return lo, hi


def export_final(data: dict[str, M.Data], decisions: dict[int, Any], serve: list[int], root: Path, results: dict[str, Any]) -> None:
    """Fit what ships on ALL datasets pooled, export graph + metadata + parity fixture; also a candidate graph with the
    best non-trivial families (trees), exported whatever the decision, so the runtime parity test exercises them."""
    parts = list(data.values())
    pooled, w = M.concat(parts, M_CAP())
    F = len(pooled.names)
    shipped, candidate, heads_meta = [], [], []
    for h in serve:
        dec = decisions[h]
        ships = dec["point"]["ships"]
        base = ships.removesuffix("+os")
        pt = _fit(base, "point", pooled, w, h, parts)
        online = {"kappaBps2": M.online_slope_kappa(pt.predict(pooled.X)), "halfLife": M.ONLINE_SLOPE_HALF_LIFE} if ships.endswith("+os") else None
        lo, hi = _fit(dec["band"]["ships"], "band", pooled, w, h, parts)
        const_lo, const_hi = M.constant_band(pooled.Y[h], F)
        shipped.append((h, pt, lo, hi))
        # candidate graph: trees + the venue-scaled linear head, so the parity test covers every operator we may ship
        cand_pt = _fit("gbr", "point", pooled, w, h, parts)
        cand_lo, cand_hi = _fit("gbq", "band", pooled, w, h, parts)
        if h == serve[0]:
            cand_pt = M.fit_scaled(parts, h, M.DIRECTIONAL_BPS, M.DIRECTIONAL_FREE, 10.0)
        candidate.append((h, cand_pt, cand_lo, cand_hi))
        heads_meta.append(
            {
                "horizonSec": h,
                "outputs": dict(zip(("returnBps", "lowBps", "highBps"), _names(h))),
                "point": base,
                # per-instrument online calibration of the point's magnitude (src/predict/horizon.ts), or null
                "onlineSlope": online,
                "band": dec["band"]["ships"],
                "decision": {"point": dec["point"]["reason"], "band": dec["band"]["reason"]},
                "lodo": {
                    "point": {d: {f: _brief(results["lodo"][d][h]["point"][f]) for f in {ships, base, "no-change", "microprice"}} for d in data},
                    "band": {d: {k: _brief(v) for k, v in results["lodo"][d][h]["band"].items() if k.startswith((dec["band"]["ships"], "constant"))} for d in data},
                },
                "fallbackBand": {"lowBps": const_lo.b, "highBps": const_hi.b},
            }
        )
    models_dir = root / "models"
    fixtures = root / "test/fixtures"
    idx = [np.linspace(0, len(d) - 1, FIXTURE_ROWS_PER_DATASET).round().astype(int) for d in data.values()]
    X32 = np.concatenate([d.X[i] for d, i in zip(data.values(), idx)]).astype(np.float32)
    outs = [n for h in serve for n in _names(h)]
    fixture: dict[str, Any] = {
        "note": "Generated by training/evaluate.py (export_multi.py); float32 inputs and Python onnxruntime outputs. Do not edit.",
        "featureNames": pooled.names,
        "featureVersion": list(data.values())[0].meta["featureVersion"],
        "onnxruntime": onnxruntime.__version__,
        "outputs": outs,
        "rows": [[float(v) for v in r] for r in X32],
        "models": {},
    }
    for nm, heads, doc in (
        (NAME, shipped, "TradeSim Prediction v2: shipped heads per horizon (see predict-v2.json decisions)"),
        (f"{NAME}-candidate", candidate, "TradeSim Prediction v2 candidate (gradient-boosted point + quantile trees); NOT served"),
    ):
        model = build_graph(heads, F, doc)
        b = model.SerializeToString()
        sha = hashlib.sha256(b).hexdigest()
        got = run_onnx(b, X32, outs)
        want = np.stack([head.predict(X32) for _, *hs in heads for head in hs], axis=1)
        diff = float(np.abs(got.astype(np.float64) - want).max())
        if diff > 1e-4 * max(1.0, float(np.abs(want).max())):
            raise SystemExit(f"{nm}: ONNX differs from the Python heads by {diff}")
        (models_dir / f"{nm}.onnx").write_bytes(b)
        version = f"{fixture['featureVersion']}.{sha[:12]}"
        fixture["models"][nm] = {"file": f"{nm}.onnx", "version": version, "sha256": sha, "expected": [[float(v) for v in r] for r in got]}
        meta = {
            "name": nm,
            "version": version,
            "served": nm == NAME,
            "featureVersion": fixture["featureVersion"],
            "featureNames": pooled.names,
            "quantiles": {"low": M.Q_LO, "high": M.Q_HI},
            "onnx": {
                "file": f"{nm}.onnx",
                "sha256": sha,
                "bytes": len(b),
                "ir_version": model.ir_version,
                "opsets": {op.domain or "ai.onnx": op.version for op in model.opset_import},
                "operators": sorted({f"{n.domain or 'ai.onnx'}:{n.op_type}" for n in model.graph.node}),
                "input": {"name": INPUT, "dtype": "float32", "shape": ["N", F]},
            },
            "heads": heads_meta if nm == NAME else [{**hm, "point": "dirvol" if hm["horizonSec"] == serve[0] else "gbr", "onlineSlope": None, "band": "gbq", "decision": "candidate: not served"} for hm in heads_meta],
            "training": {
                "datasets": {n: {"rows_1s_grid": len(d), "source": d.meta.get("source"), "instId": d.meta.get("instId")} for n, d in data.items()},
                "pooled_rows": len(pooled),
                "cap_rows_per_dataset": M_CAP(),
                "command": "bash training/evaluate.sh",
            },
            "versions": {
                "python": platform.python_version(),
                "numpy": np.__version__,
                "scikit-learn": sklearn.__version__,
                "skl2onnx": skl2onnx.__version__,
                "onnx": onnx.__version__,
                "onnxruntime": onnxruntime.__version__,
            },
        }
        (models_dir / f"{nm}.json").write_text(json.dumps(_clean(meta), indent=1) + "\n")
        print(f"export: wrote models/{nm}.onnx ({len(b)} bytes, {version}); ONNX == Python heads within {diff:.2e}", flush=True)
    (fixtures / f"{NAME}.expected.json").write_text(json.dumps(fixture, indent=1) + "\n")


def _brief(m: dict[str, Any]) -> dict[str, Any]:
    """The headline numbers of one metrics row (the full rows are in training/results/prediction-v2.json)."""
    keep = ("independent_windows", "rmse_ratio", "rmse_ratio_ci95", "hit_rate_independent", "hit_rate_ci95_wilson_independent", "coverage", "mean_width_bps", "winkler")
    return {k: m[k] for k in keep if k in m}


def M_CAP() -> int:
    from evaluate import CAP  # noqa: PLC0415

    return CAP


def _clean(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, (float, np.floating)):
        f = float(x)
        return f if math.isfinite(f) else ("inf" if f > 0 else "-inf" if f < 0 else "nan")
    if isinstance(x, np.integer):
        return int(x)
    return x
