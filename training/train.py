"""Train, evaluate and export the mid-price forecaster (run by `npm run train` via training/train.sh).

    python training/train.py --rows training/out/rows.csv [--name mid60] [--out-dir models]
                             [--fixture-dir test/fixtures] [--val-frac 0.35]

Writes, for NAME (default mid<horizon>):
  models/NAME.onnx            the shipped model (ridge if it beats no-change on validation, else no-change)
  models/NAME.json            its metadata: feature names/order/version, horizon, data span, metrics, versions, I/O
  models/NAME.metrics.md/json the comparison table (no-change, microprice, ridge; train and validation)
  models/NAME-ridge.onnx/json the ridge candidate, exported whatever the decision (for inspection and for the
                              workerd parity test, which needs non-zero weights)
  test/fixtures/NAME.expected.json  float32 validation rows and Python onnxruntime outputs of both graphs,
                              which test/predict.workers.test.ts compares with onnxruntime-web inside workerd
"""
from __future__ import annotations

import argparse
import json
import math
import platform
import sys
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime
import skl2onnx
import sklearn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from export import describe, export_modelset, onnx_bytes, run_onnx, sha256  # noqa: E402
from pipeline import QUANTILES, ModelSet, TrainResult, coefficients, load_rows, train  # noqa: E402

FIXTURE_ROWS = 32


def versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "skl2onnx": skl2onnx.__version__,
        "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
    }


def _clean(x: Any) -> Any:
    """JSON-safe: inf -> "inf", numpy scalars -> Python numbers."""
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, (np.floating, float)):
        f = float(x)
        return f if math.isfinite(f) else ("inf" if f > 0 else "-inf" if f < 0 else "nan")
    if isinstance(x, np.integer):
        return int(x)
    return x


def _fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def metrics_markdown(name: str, r: TrainResult, meta_src: dict[str, Any]) -> str:
    d = r.metrics["data"]
    lines = [
        f"# {name}: {r.horizon_sec:g} s mid-return forecast, {meta_src['instId']}",
        "",
        f"Data: `{meta_src['source']}`, {d['rows']} rows over {d['span_sec']:.0f} s of feature rows "
        f"(about {d['independent_windows']:.1f} non-overlapping {r.horizon_sec:g} s windows).",
        f"Train: {d['train']['rows']} rows, {d['train']['span_sec']:.0f} s (~{d['train']['independent_windows']:.1f} windows); "
        f"purge gap {d['purge_sec']:g} s ({d['purged_rows']} rows); "
        f"validation: {d['validation']['rows']} rows, {d['validation']['span_sec']:.0f} s (~{d['validation']['independent_windows']:.1f} windows).",
        "",
        f"**Decision: {r.decision}.**",
        "",
    ]
    q = f"[q{int(QUANTILES[0]*100)}, q{int(QUANTILES[1]*100)}]"
    for split in ("validation", "train"):
        m = r.metrics[split]
        lines += [
            f"## {split.capitalize()}" + (" (out of sample)" if split == "validation" else " (in sample)"),
            "",
            f"| model | RMSE bps | MAE bps | R² | R² vs no-change | directional acc. | coverage {q} | mean width bps |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        rows = (
            ("no-change (0 bps; constant ±q80(abs) interval)", m["no_change"]),
            ("microprice (offset bps)", m["microprice"]),
            (f"ridge α={r.candidate.alphas['ridge_per_row']:g}·n + linear quantiles", m["ridge"]),
        )
        for label, x in rows:
            iv = x.get("interval")
            lines.append(
                f"| {label} | {_fmt(x['rmse_bps'])} | {_fmt(x['mae_bps'])} | {_fmt(x['r2'])} | {_fmt(x['r2_vs_no_change'], 4)} | "
                f"{_fmt(x['directional_accuracy'])} | {_fmt(iv['coverage']) if iv else '—'} | {_fmt(iv['mean_width_bps'], 2) if iv else '—'} |"
            )
        lines.append("")
    lines += [
        "Notes:",
        "- R² is sklearn's (against the validation mean, unknowable in advance); R² vs no-change is 1 - SSE/SSE(0).",
        "- Directional accuracy counts rows where both the forecast and the realised return are non-zero (— for no-change).",
        "- Rows are ~50 ms apart and share almost all of their 60 s target: the number of independent outcomes is the",
        "  window count above, not the row count. Differences between rows of this table are not statistically meaningful.",
        "",
    ]
    return "\n".join(lines)


def model_metadata(name: str, kind_note: str, ms: ModelSet, model: onnx.ModelProto, b: bytes, r: TrainResult, src: dict[str, Any], default: bool) -> dict[str, Any]:
    sha = sha256(b)
    return _clean(
        {
            "name": name,
            "version": f"{src['featureVersion']}.{sha[:12]}",
            "kind": ms.kind,
            "default": default,
            "note": kind_note,
            "decision": r.decision,
            "horizonSec": r.horizon_sec,
            "featureVersion": src["featureVersion"],
            "featureNames": r.rows.feature_names,
            "quantiles": {"low": QUANTILES[0], "high": QUANTILES[1]},
            "onnx": {"file": f"{name}.onnx", "sha256": sha, "bytes": len(b), **describe(model)},
            "data": {
                "instId": src["instId"],
                "source": src["source"],
                "firstTs": int(r.rows.ts[0]),
                "lastTs": int(r.rows.ts[-1]),
                "lastTargetTs": int(r.rows.target_ts.max()),
                **r.metrics["data"],
            },
            "metrics": {"validation": r.metrics["validation"], "train": r.metrics["train"]},
            "selection": r.selection,
            "coefficients": coefficients(ms, r.rows.feature_names),
            "versions": versions(),
        }
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", required=True, help="CSV written by `npm run features`")
    ap.add_argument("--name", default=None)
    ap.add_argument("--out-dir", default="models")
    ap.add_argument("--fixture-dir", default="test/fixtures")
    ap.add_argument("--val-frac", type=float, default=0.35)
    a = ap.parse_args(argv)

    rows = load_rows(a.rows)
    src = rows.meta
    horizon = float(src["horizonSec"])
    name = a.name or f"mid{horizon:g}"
    r = train(rows, horizon, a.val_frac)
    out = Path(a.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    F = rows.X.shape[1]

    shipped_note = (
        "Ridge regression on standardised book features (no intercept) with 10%/90% linear quantile regressions."
        if r.shipped.kind == "ridge"
        else "No-change forecast (predicted return 0 bps) with a constant interval: the 10%/90% quantiles of a zero-centred "
        "return with the spread of the training returns (+-80% quantile of |return|), "
        "exported as the same linear graph with zero weights so it goes through the same serving path. "
        "Shipped because the ridge candidate did not beat no-change out of sample."
    )
    artifacts = []
    for nm, ms, note, default in (
        (name, r.shipped, shipped_note, True),
        (f"{name}-ridge", r.candidate, "Ridge candidate, exported for inspection and runtime parity tests; NOT the default unless identical to it.", False),
    ):
        model = export_modelset(ms, F, doc=f"TradeSim {nm}: {note}")
        b = onnx_bytes(model)
        (out / f"{nm}.onnx").write_bytes(b)
        meta = model_metadata(nm, note, ms, model, b, r, src, default)
        (out / f"{nm}.json").write_text(json.dumps(meta, indent=2) + "\n")
        artifacts.append((nm, ms, b, meta))

    (out / f"{name}.metrics.json").write_text(json.dumps(_clean({"decision": r.decision, **r.metrics, "selection": r.selection}), indent=2) + "\n")
    (out / f"{name}.metrics.md").write_text(metrics_markdown(name, r, src))

    # Fixture for the workerd parity test: evenly spaced validation rows, as float32, and the Python runtime's outputs.
    va = rows.take(r.split.val)
    idx = np.linspace(0, len(va) - 1, FIXTURE_ROWS).round().astype(int)
    X32 = va.X[idx].astype(np.float32)
    fixture = {
        "note": "Generated by training/train.py; float32 inputs and Python onnxruntime outputs. Do not edit.",
        "featureNames": rows.feature_names,
        "featureVersion": src["featureVersion"],
        "onnxruntime": onnxruntime.__version__,
        "rows": [[float(v) for v in row] for row in X32],
        "models": {},
    }
    for nm, ms, b, meta in artifacts:
        o = run_onnx(b, X32)
        sk = ms.predict(X32)
        diff = float(np.abs(o.astype(np.float64) - sk).max())
        if diff > 1e-5:
            raise SystemExit(f"{nm}: ONNX differs from sklearn by {diff} on validation rows")
        fixture["models"][nm] = {"file": f"{nm}.onnx", "version": meta["version"], "sha256": meta["onnx"]["sha256"], "expected": [[float(v) for v in row] for row in o]}
    fx = Path(a.fixture_dir)
    fx.mkdir(parents=True, exist_ok=True)
    (fx / f"{name}.expected.json").write_text(json.dumps(fixture, indent=1) + "\n")

    v = r.metrics["validation"]
    print(f"train: {r.decision}", file=sys.stderr)
    print(
        f"train: validation RMSE no-change {v['no_change']['rmse_bps']:.3f}, microprice {v['microprice']['rmse_bps']:.3f}, "
        f"ridge {v['ridge']['rmse_bps']:.3f} bps; shipped ({r.shipped.kind}) interval coverage "
        f"{r.metrics['shipped']['validation']['interval']['coverage']:.2f} "
        f"(~{r.metrics['data']['validation']['independent_windows']:.1f} independent windows)",
        file=sys.stderr,
    )
    for nm, _, b, meta in artifacts:
        print(f"train: wrote {out / (nm + '.onnx')} ({len(b)} bytes, {meta['version']})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
