"""Prediction v2: walk-forward + leave-one-dataset-out evaluation, shipping decisions, final fit and ONNX export.

    training/.venv/bin/python training/evaluate.py --rows-dir training/out/eval [--horizons 5,10,60] [--serve 10,60]

Reads `<rows-dir>/<dataset>.csv` written by `npm run features -- --horizons 5,10,60` (see training/evaluate.sh), and
writes training/results/prediction-v2.json (every number of the tables), training/results/prediction-v2.md (the
tables docs/prediction.md quotes), models/predict-v2.onnx + .json (the shipped multi-horizon graph and its decisions)
and test/fixtures/predict-v2.expected.json (float32 rows + Python onnxruntime outputs for the workerd parity test).

Protocol (everything out of sample):
- per dataset: expanding-window walk-forward, 3 folds (the span cut in 4 equal parts; fold k trains on parts < k,
  minus a purge of one horizon before the test part, and tests on part k);
- leave-one-dataset-out (LODO): train on the other datasets pooled (each thinned to <= CAP rows and weighted
  equally), test on the WHOLE held-out dataset: a venue the model never saw.
Point families: no-change, microprice (baselines), ridge, gradient-boosted trees. Band families: constant +-q80|y|,
past-realised-vol (baselines), linear quantile regression on volatility/spread columns, gradient-boosted quantile
trees; every band is reported raw and after online adaptive conformal calibration (ACI, as served live).
Shipping rule per horizon and output, on the LODO table only: a point family ships if its RMSE ratio vs no-change
is <= 1 on EVERY held-out dataset and < 1 on at least one (else no-change ships); a band family ships if its
ACI-calibrated interval (Winkler) score beats the constant band's (also ACI-calibrated) on every held-out dataset
(else the constant band ships). The metadata records each decision and the numbers behind it.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import multi as M  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATASETS = {
    # name: (csv stem, description)
    "gemini": "Gemini ETH-USD 2021-07-01, 48 h, L1 on a 1 s grid + trades (MIT)",
    "okcoin": "OKCoin BTC/CNY 2016-03-03, 1 h, 20 levels ~3/s + trades (MIT)",
    "binance2023": "Binance USD-M BTCUSDT 2023-01-09, 1.7 h, 10 levels every 250 ms, no trades (read from ../shared only)",
    "btc6min": "Binance USD-M BTCUSDT 2024-08-08 as BTC-USDT-SWAP, 6 min, 400 levels, no trades (bundled)",
}
CAP = 6_000
POINT_FAMILIES = ("no-change", "microprice", "ridge", "gbr", "imbvol", "dirvol")
# imbvol+os: the imbvol head with its magnitude calibrated online per instrument (multi.online_slope), as served
SHIP_POINT_CANDIDATES = ("ridge", "gbr", "imbvol", "dirvol", "imbvol+os")
BAND_FAMILIES = ("constant", "rv", "qlin", "gbq")
QLIN_COLS = ("rv_10s", "rv_60s", "rv_300s", "spread_bps")


def fit_point(fam: str, tr: M.Data, w: np.ndarray, h: int, parts: list[M.Data]) -> tuple[M.Head, dict[str, Any]]:
    """`tr`/`w`: the pooled, weighted training rows; `parts`: the same training data per dataset (nested selection)."""
    F = len(tr.names)
    if fam == "no-change":
        return M.Linear(np.zeros(F), 0.0), {}
    if fam == "microprice":
        return M.microprice_head(tr.names), {}
    if fam == "ridge":
        a, scores = M.select_ridge(tr, w, h)
        return M.fit_ridge(tr.X, tr.Y[h], w, a), {"alpha_per_row": a, "inner": scores}
    if fam == "gbr":
        return M.fit_gbr(tr.X, tr.Y[h], w), {"params": M.GBR_PARAMS}
    if fam in ("imbvol", "dirvol"):
        bps, free = ((), ("imb_l1",)) if fam == "imbvol" else (M.DIRECTIONAL_BPS, M.DIRECTIONAL_FREE)
        a, scores = M.select_scaled(parts, h, bps, free)
        return M.fit_scaled(parts, h, bps, free, a), {"alpha_per_row": a, "nested": scores, "bps": list(bps), "free": list(free)}
    raise ValueError(fam)


def fit_band(fam: str, tr: M.Data, w: np.ndarray, h: int) -> tuple[M.Head, M.Head, dict[str, Any]]:
    y = tr.Y[h]
    if fam == "constant":
        lo, hi = M.constant_band(y, len(tr.names))
        return lo, hi, {"halfWidthBps": hi.b}
    if fam == "rv":
        lo, hi = M.rv_band(tr, y, h)
        return lo, hi, {"rv": "rv_300s"}
    if fam == "qlin":
        cols = [tr.names.index(c) for c in QLIN_COLS]
        return M.fit_linear_quantile(tr.X, y, M.Q_LO, cols), M.fit_linear_quantile(tr.X, y, M.Q_HI, cols), {"columns": list(QLIN_COLS)}
    if fam == "gbq":
        return M.fit_gbr(tr.X, y, w, "quantile", M.Q_LO), M.fit_gbr(tr.X, y, w, "quantile", M.Q_HI), {"params": M.GBR_PARAMS}
    raise ValueError(fam)


def evaluate_split(parts: list[M.Data], te: M.Data, h: int) -> dict[str, Any]:
    """Fit every family on the training `parts`, predict `te`; returns predictions (for pooling across folds)."""
    tr, w = M.concat(parts, CAP)
    out: dict[str, Any] = {"point": {}, "band": {}, "fits": {}}
    for fam in POINT_FAMILIES:
        head, info = fit_point(fam, tr, w, h, parts)
        out["point"][fam] = head.predict(te.X)
        if "alpha_per_row" in info:
            out["fits"][fam] = {"alpha_per_row": info["alpha_per_row"]}
        if fam == "imbvol":
            kappa = M.online_slope_kappa(head.predict(tr.X))
            out["point"]["imbvol+os"] = M.online_slope(te.ts, te.Y[h], out["point"][fam], h, kappa)
            out["fits"]["imbvol+os"] = {"kappa_bps2": kappa, "half_life": M.ONLINE_SLOPE_HALF_LIFE}
    for fam in BAND_FAMILIES:
        lo, hi, _ = fit_band(fam, tr, w, h)
        out["band"][fam] = (lo.predict(te.X), hi.predict(te.X))
    return out


def metrics_for(te_ts: np.ndarray, y: np.ndarray, preds: dict[str, Any], h: int) -> dict[str, Any]:
    res: dict[str, Any] = {"point": {}, "band": {}}
    for fam, p in preds["point"].items():
        res["point"][fam] = M.point_metrics(te_ts, y, p, h)
    for fam, (lo, hi) in preds["band"].items():
        lo2, hi2 = np.minimum(lo, hi), np.maximum(lo, hi)  # quantile heads may cross
        res["band"][fam] = M.band_metrics(y, lo2, hi2, h)
        alo, ahi = M.aci(te_ts, y, lo2, hi2, h)
        res["band"][f"{fam}+aci"] = M.band_metrics(y, alo, ahi, h)
    return res


def walk_forward(d: M.Data, h: int, folds: int = 3) -> dict[str, Any] | None:
    edges = np.linspace(d.ts[0], d.ts[-1] + 1, folds + 2)
    pooled: dict[str, Any] = {"point": {}, "band": {}}
    ts_all, y_all = [], []
    used = 0
    for k in range(1, folds + 1):
        start, end = edges[k], edges[k + 1]
        tr_idx = np.flatnonzero(d.ts + h * 1000 < start)
        te_idx = np.flatnonzero((d.ts >= start) & (d.ts < end))
        if len(tr_idx) < 100 or len(te_idx) < 20:
            continue
        te = d.take(te_idx)
        p = evaluate_split([d.take(tr_idx)], te, h)
        for kind in ("point", "band"):
            for fam, v in p[kind].items():
                pooled[kind].setdefault(fam, []).append(v)
        ts_all.append(te.ts)
        y_all.append(te.Y[h])
        used += 1
    if used == 0:
        return None
    preds = {
        "point": {f: np.concatenate(v) for f, v in pooled["point"].items()},
        "band": {f: (np.concatenate([a for a, _ in v]), np.concatenate([b for _, b in v])) for f, v in pooled["band"].items()},
    }
    # ACI runs across the fold boundaries as live serving would (test parts are consecutive in time)
    r = metrics_for(np.concatenate(ts_all), np.concatenate(y_all), preds, h)
    r["folds"] = used
    return r


def lodo(data: dict[str, M.Data], held: str, h: int) -> dict[str, Any]:
    te = data[held]
    p = evaluate_split([d for n, d in data.items() if n != held], te, h)
    return {**metrics_for(te.ts, te.Y[h], p, h), "fits": p["fits"]}


def decide(lodo_res: dict[str, dict[int, Any]], h: int) -> dict[str, Any]:
    held = list(lodo_res)
    point = {"baseline": "no-change", "candidates": {}}
    for fam in SHIP_POINT_CANDIDATES:
        ratios = {d: lodo_res[d][h]["point"][fam]["rmse_ratio"] for d in held}
        ok = all(r is not None and r <= 1.0 for r in ratios.values()) and any(r < 1.0 for r in ratios.values())
        point["candidates"][fam] = {"rmse_ratio_by_held_out": ratios, "passes": ok, "mean_ratio": float(np.mean([r for r in ratios.values() if r is not None]))}
    passing = [f for f, c in point["candidates"].items() if c["passes"]]
    point["ships"] = min(passing, key=lambda f: point["candidates"][f]["mean_ratio"]) if passing else "no-change"
    point["reason"] = (
        f"{point['ships']}: RMSE ratio <= 1 on every held-out dataset and < 1 on at least one"
        if passing
        else "no-change: no family had RMSE ratio <= 1 on every held-out dataset (LODO) with < 1 somewhere"
    )
    band = {"baseline": "constant (+ACI)", "candidates": {}}
    for fam in ("rv", "qlin", "gbq"):
        rel = {d: lodo_res[d][h]["band"][f"{fam}+aci"]["winkler"] / lodo_res[d][h]["band"]["constant+aci"]["winkler"] for d in held}
        band["candidates"][fam] = {"winkler_vs_constant_by_held_out": rel, "passes": all(r < 1.0 for r in rel.values()), "mean_rel": float(np.mean(list(rel.values())))}
    passing = [f for f, c in band["candidates"].items() if c["passes"]]
    band["ships"] = min(passing, key=lambda f: band["candidates"][f]["mean_rel"]) if passing else "constant"
    band["reason"] = (
        f"{band['ships']}: ACI-calibrated interval score below the constant band's on every held-out dataset"
        if passing
        else "constant: no band family beat the constant band's interval score on every held-out dataset"
    )
    return {"point": point, "band": band}


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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows-dir", default="training/out/eval")
    ap.add_argument("--horizons", default="5,10,60")
    ap.add_argument("--serve", default="10,60", help="horizons the exported graph serves")
    ap.add_argument("--datasets", default=",".join(DATASETS))
    ap.add_argument("--results", default="training/results")
    ap.add_argument("--no-export", action="store_true")
    ap.add_argument("--no-walk-forward", action="store_true")
    a = ap.parse_args(argv)
    hs = [int(x) for x in a.horizons.split(",")]
    serve = [int(x) for x in a.serve.split(",")]
    t0 = time.time()
    data = {n: M.load(Path(a.rows_dir) / f"{n}.csv", n) for n in a.datasets.split(",")}
    for n, d in data.items():
        print(f"evaluate: {n}: {len(d)} rows on the 1 s grid, {(d.ts[-1] - d.ts[0]) / 3.6e6:.2f} h", file=sys.stderr)

    results: dict[str, Any] = {"datasets": {}, "walk_forward": {}, "lodo": {}, "decisions": {}}
    for n, d in data.items():
        results["datasets"][n] = {
            "description": DATASETS.get(n, n),
            "source": d.meta.get("source"),
            "instId": d.meta.get("instId"),
            "rows_1s_grid": len(d),
            "span_sec": float(d.ts[-1] - d.ts[0]) / 1000,
            "trades": d.meta.get("trades"),
            "return_sd_bps": {h: float(np.std(d.Y[h])) for h in hs},
        }
    # LODO first: the shipping decisions (and the export) depend only on it; walk-forward is reported beside it.
    for h in hs:
        for n in data:
            results["lodo"].setdefault(n, {})[h] = lodo(data, n, h)
            print(f"evaluate: LODO held-out {n} {h}s done ({time.time() - t0:.0f} s)", file=sys.stderr)
        results["decisions"][h] = decide(results["lodo"], h)
        print(f"evaluate: {h}s decisions: point {results['decisions'][h]['point']['ships']}, band {results['decisions'][h]['band']['ships']}", file=sys.stderr)
    out = Path(a.results)
    out.mkdir(parents=True, exist_ok=True)
    # intermediate (git-ignored): the LODO half, in case the walk-forward is interrupted
    (ROOT / "training/out").mkdir(parents=True, exist_ok=True)
    (ROOT / "training/out/prediction-v2.lodo.json").write_text(json.dumps(_clean(results), indent=1) + "\n")
    if not a.no_export:
        from export_multi import export_final  # noqa: E402

        export_final(data, results["decisions"], serve, ROOT, results)
    if not a.no_walk_forward:
        for h in hs:
            for n, d in data.items():
                results["walk_forward"].setdefault(n, {})[h] = walk_forward(d, h)
                print(f"evaluate: walk-forward {n} {h}s done ({time.time() - t0:.0f} s)", file=sys.stderr)

    results["protocol"] = {
        "grid_ms": 1000,
        "cap_rows_per_dataset": CAP,
        "walk_forward_folds": 3,
        "purge": "one horizon",
        "aci": {"gamma": M.ACI_GAMMA, "clamp": M.ACI_CLAMP, "feedback": "delayed by the horizon"},
        "gbr": M.GBR_PARAMS,
        "bootstrap": "moving blocks of max(h, 10) rows (1 s grid), 300 replicates, 95 %",
        "hit_rate_ci": "Wilson 95 % on one forecast per horizon (non-overlapping outcomes)",
        "seconds": time.time() - t0,
    }
    (out / "prediction-v2.json").write_text(json.dumps(_clean(results), indent=1) + "\n")
    from report import markdown  # noqa: E402

    (out / "prediction-v2.md").write_text(markdown(_clean(results), hs))
    print(f"evaluate: wrote {out / 'prediction-v2.json'} and .md ({time.time() - t0:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
