"""TradeSim training pipeline: rows CSV (written by the TypeScript features CLI) -> split -> models -> metrics.

Features are NEVER computed here: every feature column comes from `npm run features`, which runs the same
src/features/ code the relay runs. This module only reads them.

Protocol
- Target: realised log return of the mid over the horizon, bps (`target_bps` column).
- Split: time-ordered. Validation = the last `val_frac` of the time span; training rows must satisfy
  ts + horizon < first validation ts (a purge gap of one horizon), so no training target overlaps validation.
- Candidates: ridge regression on standardised features, without intercept (a martingale prior: no features,
  no predicted move), with the shrinkage chosen on an inner purged split of the training rows; the grid includes
  infinite shrinkage, which IS the no-change forecast. 10% / 90% linear quantile regressions give the interval.
- Baselines reported beside it: no-change (0 bps) and microprice (predicted return = microprice offset, bps).
- Shipping rule: the ridge becomes the default only if it beats no-change on validation RMSE; otherwise the
  shipped model is the no-change forecast (zero weights, constant interval +-q80(|train return|), i.e. the 10% /
  90% quantiles of a zero-centred return) exported through the same ONNX graph, so serving never changes shape.
"""
from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import QuantileRegressor, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

QUANTILES = (0.1, 0.9)
# Ridge alphas are multiples of the number of training rows (penalty per row); inf = no-change.
RIDGE_ALPHA_GRID = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, math.inf)
# L1 penalties of the quantile regressions (sklearn's alpha: per-row pinball loss + alpha * ||w||_1).
QUANTILE_ALPHA_GRID = (0.0, 0.01, 0.1, 1.0, math.inf)
# Quantile fits are linear programs; rows 50 ms apart are near-duplicates, so fit on at most this many.
QUANTILE_MAX_ROWS = 3000


@dataclass
class Rows:
    ts: np.ndarray  # exchange ts, Unix ms (float64, exact below 2^53)
    mid: np.ndarray
    X: np.ndarray  # float64 [n, F], as written by the TS CLI
    target_ts: np.ndarray
    target_mid: np.ndarray
    y: np.ndarray  # target_bps
    feature_names: list[str]
    meta: dict[str, Any]

    def take(self, idx: np.ndarray) -> "Rows":
        return Rows(self.ts[idx], self.mid[idx], self.X[idx], self.target_ts[idx], self.target_mid[idx], self.y[idx], self.feature_names, self.meta)

    def __len__(self) -> int:
        return len(self.y)


def load_rows(csv_path: str | Path) -> Rows:
    """Read the features CLI's CSV and its `<csv>.json` sidecar; checks the column layout."""
    csv_path = Path(csv_path)
    meta = json.loads(Path(f"{csv_path}.json").read_text())
    with csv_path.open() as f:
        header = next(csv.reader(f))
    names = list(meta["featureNames"])
    expected = ["ts", "mid", *names, "target_ts", "target_mid", "target_bps"]
    if header != expected:
        raise ValueError(f"unexpected CSV columns in {csv_path}: {header}")
    data = np.loadtxt(csv_path, delimiter=",", skiprows=1, ndmin=2, dtype=np.float64)
    if data.shape[0] == 0:
        raise ValueError(f"no rows in {csv_path}")
    f = len(names)
    return Rows(
        ts=data[:, 0],
        mid=data[:, 1],
        X=data[:, 2 : 2 + f],
        target_ts=data[:, 2 + f],
        target_mid=data[:, 3 + f],
        y=data[:, 4 + f],
        feature_names=names,
        meta=meta,
    )


@dataclass
class Split:
    train: np.ndarray  # indices
    val: np.ndarray
    split_ts: float  # first validation ts
    purged: int


def purged_split(ts: np.ndarray, horizon_ms: float, val_frac: float) -> Split:
    """Time-ordered split: validation = ts >= split_ts; training = ts + horizon < split_ts (purge of one horizon)."""
    if not 0 < val_frac < 1:
        raise ValueError("val_frac must be in (0, 1)")
    t0, t1 = float(ts[0]), float(ts[-1])
    split_ts = t0 + (1 - val_frac) * (t1 - t0)
    val = np.flatnonzero(ts >= split_ts)
    train = np.flatnonzero(ts + horizon_ms < split_ts)
    return Split(train=train, val=val, split_ts=split_ts, purged=len(ts) - len(train) - len(val))


# ---------------------------------------------------------------------------------------------- models


def ridge_pipeline(alpha_per_row: float, n_rows: int) -> Pipeline:
    return Pipeline([("scale", StandardScaler()), ("ridge", Ridge(alpha=alpha_per_row * n_rows, fit_intercept=False))])


def fit_point(X: np.ndarray, y: np.ndarray, alpha_per_row: float) -> Pipeline:
    """Ridge on standardised features; alpha = inf gives exactly zero weights (the no-change forecast)."""
    X32 = X.astype(np.float32)
    if math.isinf(alpha_per_row):
        pipe = ridge_pipeline(1.0, len(y)).fit(X32, y)
        pipe.named_steps["ridge"].coef_ = np.zeros_like(pipe.named_steps["ridge"].coef_)
        return pipe
    return ridge_pipeline(alpha_per_row, len(y)).fit(X32, y)


def _thin(X: np.ndarray, y: np.ndarray, max_rows: int) -> tuple[np.ndarray, np.ndarray]:
    if len(y) <= max_rows:
        return X, y
    step = math.ceil(len(y) / max_rows)
    return X[::step], y[::step]


def martingale_quantile(y: np.ndarray, q: float) -> float:
    """Quantile q of a return distribution centred on 0 with the spread of |y| (the no-change model's interval).

    The plain empirical quantile would carry the training window's drift (two minutes of a falling market give a
    90% quantile below 0), contradicting the no-change point forecast; symmetrising keeps 0 inside the interval.
    """
    w = float(np.quantile(np.abs(y), abs(2 * q - 1)))
    return -w if q < 0.5 else w


def fit_quantile(X: np.ndarray, y: np.ndarray, q: float, alpha: float) -> Pipeline:
    """Linear quantile regression on standardised features; alpha = inf gives the constant no-change quantile."""
    X32 = X.astype(np.float32)
    Xf, yf = _thin(X32, y, QUANTILE_MAX_ROWS)
    if math.isinf(alpha):
        pipe = Pipeline([("scale", StandardScaler()), ("qr", QuantileRegressor(quantile=q, alpha=1.0, solver="highs"))]).fit(Xf, yf)
        qr = pipe.named_steps["qr"]
        qr.coef_ = np.zeros_like(qr.coef_)
        qr.intercept_ = martingale_quantile(y, q)
        return pipe
    return Pipeline([("scale", StandardScaler()), ("qr", QuantileRegressor(quantile=q, alpha=alpha, solver="highs"))]).fit(Xf, yf)


def predict(pipe: Pipeline, X: np.ndarray) -> np.ndarray:
    """What the Worker sees: float32 inputs."""
    return pipe.predict(X.astype(np.float32)).astype(np.float64)


def pinball(y: np.ndarray, q_pred: np.ndarray, q: float) -> float:
    d = y - q_pred
    return float(np.mean(np.maximum(q * d, (q - 1) * d)))


def select_alpha(rows: Rows, horizon_ms: float, grid, fit, loss) -> tuple[float, float, list[dict[str, float]]]:
    """Score a hyperparameter grid on an inner purged split of the training rows (never on validation).

    Returns (best over the grid, best finite value, scores); ties go to more shrinkage. When the best is inf the
    data prefer no model at all; the best finite value is still fitted so the report shows what it would do.
    """
    inner = purged_split(rows.ts, horizon_ms, 0.35)
    finite = [a for a in grid if not math.isinf(a)]
    if len(inner.train) < 10 or len(inner.val) < 10:
        return math.inf, max(finite), []
    tr, va = rows.take(inner.train), rows.take(inner.val)
    scores = []
    for a in grid:
        m = fit(tr.X, tr.y, a)
        scores.append({"alpha": a, "loss": loss(va.y, predict(m, va.X))})
    key = lambda s: (s["loss"], -s["alpha"])  # noqa: E731
    best = min(scores, key=key)["alpha"]
    best_finite = min((s for s in scores if not math.isinf(s["alpha"])), key=key)["alpha"]
    return best, best_finite, scores


# ---------------------------------------------------------------------------------------------- metrics


def point_metrics(y: np.ndarray, pred: np.ndarray) -> dict[str, Any]:
    err = y - pred
    sse = float(np.sum(err**2))
    sst = float(np.sum((y - y.mean()) ** 2))
    sse0 = float(np.sum(y**2))
    directional = (pred != 0) & (y != 0)
    return {
        "rows": int(len(y)),
        "rmse_bps": math.sqrt(sse / len(y)),
        "mae_bps": float(np.mean(np.abs(err))),
        # sklearn's R^2 (against the validation mean, which no forecaster knows in advance) ...
        "r2": 1 - sse / sst if sst > 0 else None,
        # ... and the out-of-sample R^2 against the no-change forecast, the one that matters for a martingale.
        "r2_vs_no_change": 1 - sse / sse0 if sse0 > 0 else None,
        "directional_accuracy": float(np.mean(np.sign(pred[directional]) == np.sign(y[directional]))) if directional.any() else None,
        "directional_rows": int(directional.sum()),
    }


def interval_metrics(y: np.ndarray, low: np.ndarray, high: np.ndarray) -> dict[str, Any]:
    return {
        "coverage": float(np.mean((y >= low) & (y <= high))),
        "below_low": float(np.mean(y < low)),
        "above_high": float(np.mean(y > high)),
        "mean_width_bps": float(np.mean(high - low)),
        "pinball_low": pinball(y, low, QUANTILES[0]),
        "pinball_high": pinball(y, high, QUANTILES[1]),
    }


# ---------------------------------------------------------------------------------------------- training


@dataclass
class ModelSet:
    """Three heads that are exported together as one ONNX graph."""

    kind: str  # "ridge" | "no-change"
    point: Pipeline
    low: Pipeline
    high: Pipeline
    alphas: dict[str, float] = field(default_factory=dict)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """[n, 3]: return_bps, low_bps, high_bps (what the ONNX graph outputs)."""
        return np.stack([predict(self.point, X), predict(self.low, X), predict(self.high, X)], axis=1)


@dataclass
class TrainResult:
    rows: Rows
    split: Split
    horizon_sec: float
    candidate: ModelSet  # the ridge + quantile models, evaluated whatever the decision
    no_change: ModelSet
    shipped: ModelSet
    decision: str
    metrics: dict[str, Any]
    selection: dict[str, Any]


def train(rows: Rows, horizon_sec: float, val_frac: float = 0.35) -> TrainResult:
    """Split, select, fit, evaluate and decide what ships. Deterministic for a given CSV."""
    h_ms = horizon_sec * 1000.0
    sp = purged_split(rows.ts, h_ms, val_frac)
    if len(sp.train) < 20 or len(sp.val) < 20:
        raise ValueError(f"not enough rows for a purged split: train {len(sp.train)}, val {len(sp.val)} (need a span of well over 2 horizons)")
    tr, va = rows.take(sp.train), rows.take(sp.val)

    rmse = lambda y, p: float(np.sqrt(np.mean((y - p) ** 2)))  # noqa: E731
    alpha_any, alpha, ridge_scores = select_alpha(tr, h_ms, RIDGE_ALPHA_GRID, fit_point, rmse)
    q_alpha = {}
    q_scores = {}
    for q in QUANTILES:
        _, a, s = select_alpha(tr, h_ms, QUANTILE_ALPHA_GRID, lambda X, y, a, q=q: fit_quantile(X, y, q, a), lambda y, p, q=q: pinball(y, p, q))
        q_alpha[q], q_scores[str(q)] = a, s

    candidate = ModelSet(
        kind="ridge",
        point=fit_point(tr.X, tr.y, alpha),
        low=fit_quantile(tr.X, tr.y, QUANTILES[0], q_alpha[QUANTILES[0]]),
        high=fit_quantile(tr.X, tr.y, QUANTILES[1], q_alpha[QUANTILES[1]]),
        alphas={"ridge_per_row": alpha, "q_low": q_alpha[QUANTILES[0]], "q_high": q_alpha[QUANTILES[1]]},
    )
    no_change = ModelSet(
        kind="no-change",
        point=fit_point(tr.X, tr.y, math.inf),
        low=fit_quantile(tr.X, tr.y, QUANTILES[0], math.inf),
        high=fit_quantile(tr.X, tr.y, QUANTILES[1], math.inf),
        alphas={"ridge_per_row": math.inf, "q_low": math.inf, "q_high": math.inf},
    )

    micro_idx = rows.feature_names.index("microprice_bps")
    metrics: dict[str, Any] = {}
    for split_name, part in (("train", tr), ("validation", va)):
        cand = candidate.predict(part.X)
        base = no_change.predict(part.X)
        metrics[split_name] = {
            "no_change": {**point_metrics(part.y, base[:, 0]), "interval": interval_metrics(part.y, base[:, 1], base[:, 2])},
            "microprice": point_metrics(part.y, part.X[:, micro_idx]),
            "ridge": {**point_metrics(part.y, cand[:, 0]), "interval": interval_metrics(part.y, cand[:, 1], cand[:, 2])},
        }

    v = metrics["validation"]
    beats_val = v["ridge"]["rmse_bps"] < v["no_change"]["rmse_bps"]
    cmp = f"validation RMSE {v['ridge']['rmse_bps']:.4f} vs no-change {v['no_change']['rmse_bps']:.4f} bps"
    if beats_val and not math.isinf(alpha_any):
        shipped, decision = candidate, f"ridge ships: {cmp}"
    elif math.isinf(alpha_any):
        # Shipping it anyway because it happened to win on validation would be choosing the model on validation.
        shipped, decision = no_change, f"no-change ships: the inner training split preferred infinite shrinkage ({cmp})"
    else:
        shipped, decision = no_change, f"no-change ships: ridge does not beat it on validation ({cmp})"
    metrics["shipped"] = {"kind": shipped.kind, "validation": v["ridge" if shipped is candidate else "no_change"]}

    span_ms = float(rows.ts[-1] - rows.ts[0])
    metrics["data"] = {
        "rows": len(rows),
        "span_sec": span_ms / 1000,
        "independent_windows": span_ms / h_ms,
        "train": _part_info(tr, h_ms),
        "validation": _part_info(va, h_ms),
        "purged_rows": sp.purged,
        "purge_sec": horizon_sec,
        "split_ts": sp.split_ts,
    }
    selection = {"ridge": ridge_scores, "quantile": q_scores, "alphas": candidate.alphas, "ridge_best_including_inf": alpha_any}
    return TrainResult(rows, sp, horizon_sec, candidate, no_change, shipped, decision, metrics, selection)


def _part_info(part: Rows, h_ms: float) -> dict[str, Any]:
    span = float(part.ts[-1] - part.ts[0])
    return {
        "rows": len(part),
        "first_ts": int(part.ts[0]),
        "last_ts": int(part.ts[-1]),
        "last_target_ts": int(part.target_ts.max()),
        "span_sec": span / 1000,
        # Rows 50 ms apart share almost all of their 60 s target: this is the honest sample size.
        "independent_windows": span / h_ms,
    }


def coefficients(ms: ModelSet, names: list[str]) -> dict[str, dict[str, float]]:
    """Per-feature weights of each head in original feature units (w / scale), for the report."""
    out = {}
    for head, pipe in (("return_bps", ms.point), ("low_bps", ms.low), ("high_bps", ms.high)):
        sc = pipe.named_steps["scale"]
        est = pipe.steps[-1][1]
        w = np.asarray(est.coef_, dtype=np.float64) / sc.scale_
        out[head] = {n: float(x) for n, x in zip(names, w)} | {"(intercept)": float(est.intercept_ - np.dot(w, sc.mean_))}
    return out
