"""ONNX export: the graph computes exactly what sklearn computes; the committed model matches its metadata."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest

from export import INPUT, OUTPUTS, export_modelset, onnx_bytes, run_onnx, sha256
from pipeline import load_rows, purged_split, train

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "models"
# Operators onnxruntime-web's default wasm build is known to run (ai.onnx.ml linear ops, tree ensembles).
ALLOWED_OPS = {"ai.onnx:Identity", "ai.onnx.ml:Scaler", "ai.onnx.ml:LinearRegressor", "ai.onnx.ml:TreeEnsembleRegressor"}


@pytest.fixture(scope="module")
def trained(btc_rows_csv):
    rows = load_rows(btc_rows_csv)
    return rows, train(rows, 60)


@pytest.mark.parametrize("which", ["shipped", "candidate"])
def test_onnx_equals_sklearn_on_validation_rows(trained, which):
    rows, r = trained
    ms = getattr(r, which)
    model = export_modelset(ms, rows.X.shape[1])
    val = rows.take(r.split.val)
    X32 = val.X.astype(np.float32)
    got = run_onnx(onnx_bytes(model), X32).astype(np.float64)
    want = ms.predict(X32)
    assert got.shape == (len(val), 3)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)
    # The interval is ordered on every validation row.
    assert np.all(got[:, 1] <= got[:, 2])


def test_graph_interface_and_operators(trained):
    rows, r = trained
    model = export_modelset(r.candidate, rows.X.shape[1])
    assert [i.name for i in model.graph.input] == [INPUT]
    assert [o.name for o in model.graph.output] == list(OUTPUTS)
    ops = {f"{n.domain or 'ai.onnx'}:{n.op_type}" for n in model.graph.node}
    assert ops <= ALLOWED_OPS
    assert len(onnx_bytes(model)) < 64_000


@pytest.mark.parametrize("name", ["mid60", "mid60-ridge"])
def test_committed_model_matches_metadata_and_fixture(name, feature_names):
    meta = json.loads((MODELS / f"{name}.json").read_text())
    b = (MODELS / meta["onnx"]["file"]).read_bytes()
    assert sha256(b) == meta["onnx"]["sha256"]
    assert meta["version"].endswith(meta["onnx"]["sha256"][:12])
    assert meta["featureNames"] == feature_names  # the TS feature order of today's code
    assert meta["horizonSec"] == 60
    onnx.checker.check_model(onnx.load_from_string(b))
    fixture = json.loads((ROOT / "test/fixtures/mid60.expected.json").read_text())
    fx = fixture["models"][name]
    assert fx["sha256"] == meta["onnx"]["sha256"]
    got = run_onnx(b, np.array(fixture["rows"], dtype=np.float32))
    np.testing.assert_allclose(got, np.array(fx["expected"], dtype=np.float32), rtol=0, atol=1e-6)


def test_shipped_model_never_loses_to_no_change_on_validation(btc_rows_csv):
    """RECOMPUTED, not read from the metadata: run the committed models/mid60.onnx (Python onnxruntime) on the
    validation rows of today's purged split and compare its RMSE with no-change's on the same rows."""
    meta = json.loads((MODELS / "mid60.json").read_text())
    rows = load_rows(btc_rows_csv)
    sp = purged_split(rows.ts, meta["horizonSec"] * 1000, 0.35)
    val = rows.take(sp.val)
    out = run_onnx((MODELS / meta["onnx"]["file"]).read_bytes(), val.X.astype(np.float32)).astype(np.float64)
    rmse = float(np.sqrt(np.mean((val.y - out[:, 0]) ** 2)))
    rmse0 = float(np.sqrt(np.mean(val.y**2)))
    if meta["kind"] == "no-change":
        assert np.all(out[:, 0] == 0), "a no-change model must forecast exactly 0"
        assert np.all((out[:, 1] <= 0) & (out[:, 2] >= 0)), "its interval must contain 0"
    assert rmse <= rmse0, f"shipped RMSE {rmse:.4f} > no-change {rmse0:.4f} on validation"
