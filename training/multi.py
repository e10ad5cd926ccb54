"""Prediction v2 library: multi-horizon rows, model families, online band calibration, metrics with honest CIs.

Features are NEVER computed here: every column comes from `npm run features -- --horizons ...`, which runs the same
src/features/ code the relay runs (books and trades in the order received).

Conventions
- Rows are thinned to a 1 s grid (the last row at or before each whole second of exchange time): the relay forecasts
  at most once per second, and rows 50 ms apart are near-duplicates that would only inflate counts.
- y_h = realised log return of the mid over h seconds, bps (the as-of target of src/features/asof.ts).
- Every forecast is a triple per horizon: point (bps), low (10 % quantile), high (90 % quantile).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.linear_model import QuantileRegressor, Ridge

Q_LO, Q_HI = 0.1, 0.9
ALPHA = Q_LO + (1 - Q_HI)  # nominal miscoverage of the [q10, q90] band: 0.2


# ------------------------------------------------------------------------------------------------ data


@dataclass
class Data:
    name: str
    ts: np.ndarray  # Unix ms
    mid: np.ndarray
    X: np.ndarray  # float64 [n, F]
    Y: dict[int, np.ndarray]  # horizon s -> target bps
    names: list[str]
    meta: dict[str, Any]

    def take(self, idx: np.ndarray) -> "Data":
        return Data(self.name, self.ts[idx], self.mid[idx], self.X[idx], {h: y[idx] for h, y in self.Y.items()}, self.names, self.meta)

    def __len__(self) -> int:
        return len(self.ts)

    def col(self, name: str) -> np.ndarray:
        return self.X[:, self.names.index(name)]


def load(csv_path: str | Path, name: str, grid_ms: int = 1000) -> Data:
    """Read a multi-horizon rows CSV (target_bps_<h> columns) and thin it to the last row of each `grid_ms` bucket."""
    csv_path = Path(csv_path)
    meta = json.loads(Path(f"{csv_path}.json").read_text())
    cols = list(meta["columns"])
    names = list(meta["featureNames"])
    data = np.loadtxt(csv_path, delimiter=",", skiprows=1, ndmin=2, dtype=np.float64)
    ts = data[:, 0]
    if grid_ms > 0:
        bucket = np.floor(ts / grid_ms)
        keep = np.flatnonzero(np.r_[bucket[1:] != bucket[:-1], True])
        data = data[keep]
    hs = [int(h) for h in meta.get("horizonsSec", [meta["horizonSec"]])]
    sfx = (lambda h: f"_{h}") if len(hs) > 1 else (lambda h: "")
    Y = {h: data[:, cols.index(f"target_bps{sfx(h)}")] for h in hs}
    return Data(name, data[:, 0], data[:, 1], data[:, 2 : 2 + len(names)], Y, names, meta)


def concat(parts: list[Data], cap_per_part: int, seed: int = 0) -> tuple[Data, np.ndarray]:
    """Pool datasets for training; each is thinned evenly to at most `cap_per_part` rows and given equal total weight
    (so a 48 h venue does not drown a 1 h one). Returns the pooled data and the sample weights."""
    xs, ts, mids, ys, ws = [], [], [], {h: [] for h in parts[0].Y}, []
    for p in parts:
        idx = np.arange(len(p))
        if len(p) > cap_per_part:
            idx = np.linspace(0, len(p) - 1, cap_per_part).round().astype(int)
        xs.append(p.X[idx])
        ts.append(p.ts[idx])
        mids.append(p.mid[idx])
        for h in ys:
            ys[h].append(p.Y[h][idx])
        ws.append(np.full(len(idx), 1.0 / len(idx)))
    w = np.concatenate(ws)
    w *= len(w) / w.sum()
    d = Data("+".join(p.name for p in parts), np.concatenate(ts), np.concatenate(mids), np.concatenate(xs), {h: np.concatenate(v) for h, v in ys.items()}, parts[0].names, {})
    return d, w


# ------------------------------------------------------------------------------------------------ heads


@dataclass
class Linear:
    """y = X @ w + b (exported as MatMul + Add)."""

    w: np.ndarray
    b: float

    def predict(self, X: np.ndarray) -> np.ndarray:
        # float32 inputs and weights, as the Worker computes it
        return (X.astype(np.float32) @ self.w.astype(np.float32)).astype(np.float64) + np.float32(self.b)


@dataclass
class Trees:
    """A fitted sklearn GradientBoostingRegressor (exported by skl2onnx as ai.onnx.ml TreeEnsembleRegressor)."""

    model: GradientBoostingRegressor

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.model.predict(X.astype(np.float32)).astype(np.float64)




def _standardise(X: np.ndarray, w: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    mu = np.average(X, axis=0, weights=w)
    sd = np.sqrt(np.average((X - mu) ** 2, axis=0, weights=w))
    sd[sd == 0] = 1.0
    return mu, sd


def fit_ridge(X: np.ndarray, y: np.ndarray, w: np.ndarray | None, alpha_per_row: float) -> Linear:
    """Ridge on standardised features without intercept (no features, no move); folded back to raw units."""
    if math.isinf(alpha_per_row):
        return Linear(np.zeros(X.shape[1]), 0.0)
    mu, sd = _standardise(X, w)
    Z = (X - mu) / sd
    m = Ridge(alpha=alpha_per_row * len(y), fit_intercept=False).fit(Z, y, sample_weight=w)
    coef = m.coef_ / sd
    return Linear(coef, float(-np.dot(coef, mu)))


def inner_split(ts: np.ndarray, horizon_ms: float, frac: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """Purged time split inside a training set (never touches the test data): last `frac` of rows by ts."""
    order = np.argsort(ts, kind="stable")
    cut = ts[order[int(len(order) * (1 - frac))]]
    return np.flatnonzero(ts + horizon_ms < cut), np.flatnonzero(ts >= cut)


RIDGE_GRID = (1e-3, 1e-2, 1e-1, 1.0, 10.0, math.inf)


def select_ridge(d: Data, w: np.ndarray, h: int) -> tuple[float, list[dict[str, float]]]:
    """Ridge shrinkage by an inner purged split (ties -> more shrinkage; inf = no-change)."""
    tr, va = inner_split(d.ts, h * 1000)
    if len(tr) < 50 or len(va) < 50:
        return math.inf, []
    y = d.Y[h]
    scores = []
    for a in RIDGE_GRID:
        m = fit_ridge(d.X[tr], y[tr], w[tr], a)
        e = y[va] - m.predict(d.X[va])
        scores.append({"alpha": a, "mse": float(np.average(e**2, weights=w[va]))})
    best = min(scores, key=lambda s: (s["mse"], -s["alpha"]))["alpha"]
    return best, scores


GBR_PARAMS = dict(n_estimators=50, max_depth=3, learning_rate=0.05, subsample=0.7, min_samples_leaf=100, random_state=0)


def fit_gbr(X: np.ndarray, y: np.ndarray, w: np.ndarray | None, loss: str = "squared_error", q: float = 0.5) -> Trees:
    kw = dict(GBR_PARAMS)
    if loss == "quantile":
        kw.update(loss="quantile", alpha=q)
    m = GradientBoostingRegressor(**kw).fit(X.astype(np.float32), y, sample_weight=w)
    return Trees(m)


def fit_linear_quantile(X: np.ndarray, y: np.ndarray, q: float, cols: list[int], max_rows: int = 3000) -> Linear:
    """Linear quantile regression (HiGHS) on a few scale-free columns, thinned evenly to `max_rows`."""
    idx = np.arange(len(y)) if len(y) <= max_rows else np.linspace(0, len(y) - 1, max_rows).round().astype(int)
    Xs = X[idx][:, cols]
    m = QuantileRegressor(quantile=q, alpha=0.0, solver="highs").fit(Xs, y[idx])
    w = np.zeros(X.shape[1])
    w[cols] = m.coef_
    return Linear(w, float(m.intercept_))


def constant_band(y: np.ndarray, n_features: int) -> tuple[Linear, Linear]:
    """No-change band: +-q80(|y|), i.e. the 10/90 % quantiles of a zero-centred return with the spread of y."""
    c = float(np.quantile(np.abs(y), Q_HI - Q_LO))
    z = np.zeros(n_features)
    return Linear(z.copy(), -c), Linear(z.copy(), c)


def rv_band(d: Data, y: np.ndarray, h: int, rv_name: str = "rv_300s") -> tuple[Linear, Linear]:
    """Past-realised-vol band: [k_lo, k_hi] * rv * sqrt(h / window) with k the 10/90 % quantiles of y / (rv sqrt(h/w)).
    Scale-free: the same k fits any venue whose returns scale with its own recent volatility."""
    w_sec = int(rv_name.split("_")[1].rstrip("s"))
    scale = d.col(rv_name) * math.sqrt(h / w_sec)
    ok = scale > 0
    r = y[ok] / scale[ok]
    k_lo, k_hi = float(np.quantile(r, Q_LO)), float(np.quantile(r, Q_HI))
    j = d.names.index(rv_name)
    lo, hi = np.zeros(len(d.names)), np.zeros(len(d.names))
    lo[j] = k_lo * math.sqrt(h / w_sec)
    hi[j] = k_hi * math.sqrt(h / w_sec)
    return Linear(lo, 0.0), Linear(hi, 0.0)


def microprice_head(names: list[str]) -> Linear:
    w = np.zeros(len(names))
    w[names.index("microprice_bps")] = 1.0
    return Linear(w, 0.0)


# ------------------------------------------------------------------------------------------------ online calibration


ACI_GAMMA = 0.01
ACI_CLAMP = 5.0


def aci(ts: np.ndarray, y: np.ndarray, lo: np.ndarray, hi: np.ndarray, h: int, gamma: float = ACI_GAMMA) -> tuple[np.ndarray, np.ndarray]:
    """Adaptive conformal inference (Gibbs & Candes 2021) on the band's log-scale, one tracker per side, with the
    feedback DELAYED by the horizon (a forecast's outcome is known only h s later), as src/predict/conformal.ts runs
    it live. With c = (lo + hi) / 2: low' = c - e^a (c - lo), high' = c + e^b (hi - c); after each realised outcome
    a += gamma (1[y < low'] - 0.1), b += gamma (1[y > high'] - 0.1), clamped to +-5."""
    n = len(y)
    out_lo, out_hi = np.empty(n), np.empty(n)
    a = b = 0.0
    j = 0
    due = ts + h * 1000
    for i in range(n):
        while j < i and due[j] < ts[i]:
            a += gamma * ((1.0 if y[j] < out_lo[j] else 0.0) - Q_LO)
            b += gamma * ((1.0 if y[j] > out_hi[j] else 0.0) - (1 - Q_HI))
            a = min(max(a, -ACI_CLAMP), ACI_CLAMP)
            b = min(max(b, -ACI_CLAMP), ACI_CLAMP)
            j += 1
        c = 0.5 * (lo[i] + hi[i])
        out_lo[i] = c - math.exp(a) * max(c - lo[i], 0.0)
        out_hi[i] = c + math.exp(b) * max(hi[i] - c, 0.0)
    return out_lo, out_hi


# ------------------------------------------------------------------------------------------------ metrics


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float | None, float | None]:
    if n == 0:
        return None, None
    p = k / n
    den = 1 + z * z / n
    c = (p + z * z / (2 * n)) / den
    hw = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return c - hw, c + hw


def winkler(y: np.ndarray, lo: np.ndarray, hi: np.ndarray, alpha: float = ALPHA) -> np.ndarray:
    """Interval score (Gneiting & Raftery 2007) of a central (1 - alpha) interval; lower is better."""
    return (hi - lo) + (2 / alpha) * np.maximum(lo - y, 0) + (2 / alpha) * np.maximum(y - hi, 0)


def pinball(y: np.ndarray, qp: np.ndarray, q: float) -> np.ndarray:
    d = y - qp
    return np.maximum(q * d, (q - 1) * d)


def block_bootstrap(stats: dict[str, np.ndarray], fn: Callable[[dict[str, np.ndarray]], float], block: int, reps: int = 300, seed: int = 0) -> tuple[float | None, float | None]:
    """95 % CI of fn(stats) by the moving-block bootstrap: blocks of `block` consecutive rows (1 s grid, so one
    horizon of rows) keep the overlap between neighbouring forecasts inside a block. Block sums are precomputed so
    each replicate is a cheap resample of block indices."""
    n = len(next(iter(stats.values())))
    nb = n // block
    if nb < 5:
        return None, None
    sums = {k: v[: nb * block].reshape(nb, block).sum(axis=1) for k, v in stats.items()}
    rng = np.random.default_rng(seed)
    vals = []
    for _ in range(reps):
        pick = rng.integers(0, nb, nb)
        v = fn({k: s[pick] for k, s in sums.items()})
        if v is not None and math.isfinite(v):
            vals.append(v)
    if len(vals) < reps // 2:
        return None, None
    return float(np.quantile(vals, 0.025)), float(np.quantile(vals, 0.975))


def point_metrics(ts: np.ndarray, y: np.ndarray, p: np.ndarray, h: int) -> dict[str, Any]:
    e = y - p
    mse, mse0 = float(np.mean(e**2)), float(np.mean(y**2))
    span = float(ts[-1] - ts[0]) / 1000 if len(ts) > 1 else 0.0
    moved = (y != 0) & (p != 0)
    # independent outcomes: one forecast per horizon (non-overlapping), for the binomial CI
    step = max(1, h)
    sub = np.arange(0, len(y), step)
    moved_sub = moved[sub]
    hits_sub = int(np.sum(np.sign(p[sub][moved_sub]) == np.sign(y[sub][moved_sub])))
    lo, hi = wilson(hits_sub, int(moved_sub.sum()))
    block = max(h, 10)
    ratio_ci = block_bootstrap({"se": e**2, "s0": y**2}, lambda s: math.sqrt(s["se"].sum() / s["s0"].sum()) if s["s0"].sum() > 0 else None, block)
    hit_stats = {"hit": (moved & (np.sign(p) == np.sign(y))).astype(float), "n": moved.astype(float)}
    hit_ci = block_bootstrap(hit_stats, lambda s: s["hit"].sum() / s["n"].sum() if s["n"].sum() > 0 else None, block)
    return {
        "rows": int(len(y)),
        "span_sec": span,
        "independent_windows": span / h,
        "rmse_bps": math.sqrt(mse),
        "no_change_rmse_bps": math.sqrt(mse0),
        "rmse_ratio": math.sqrt(mse / mse0) if mse0 > 0 else None,
        "rmse_ratio_ci95": ratio_ci,
        "mae_bps": float(np.mean(np.abs(e))),
        "hit_rate": float(np.mean(np.sign(p[moved]) == np.sign(y[moved]))) if moved.any() else None,
        "hit_rows": int(moved.sum()),
        "hit_rate_ci95_block_bootstrap": hit_ci,
        "hit_rate_independent": hits_sub / int(moved_sub.sum()) if moved_sub.any() else None,
        "hit_independent_n": int(moved_sub.sum()),
        "hit_rate_ci95_wilson_independent": (lo, hi),
    }


def band_metrics(y: np.ndarray, lo: np.ndarray, hi: np.ndarray, h: int) -> dict[str, Any]:
    cov = ((y >= lo) & (y <= hi)).astype(float)
    ws = winkler(y, lo, hi)
    block = max(h, 10)
    return {
        "coverage": float(cov.mean()),
        "coverage_ci95": block_bootstrap({"c": cov, "n": np.ones_like(cov)}, lambda s: s["c"].sum() / s["n"].sum(), block),
        "below_low": float(np.mean(y < lo)),
        "above_high": float(np.mean(y > hi)),
        "mean_width_bps": float(np.mean(hi - lo)),
        "winkler": float(ws.mean()),
        "winkler_ci95": block_bootstrap({"w": ws, "n": np.ones_like(ws)}, lambda s: s["w"].sum() / s["n"].sum(), block),
        "pinball_low": float(pinball(y, lo, Q_LO).mean()),
        "pinball_high": float(pinball(y, hi, Q_HI).mean()),
    }


# ------------------------------------------------------------------------------------------------ venue-scaled linear


# Sign-symmetric features whose neutral value is 0 (no information -> no move). Those in bps are divided by the
# volatility scale s (so they become scale-free); the others are multiplied by it (a scale-free signal times the
# venue's current volatility gives bps).
DIRECTIONAL_BPS = ("microprice_bps", "last_trade_bps")
DIRECTIONAL_FREE = ("imb_l1", "ofi_1s", "ofi_5s", "tflow_5s", "tflow_30s")
SCALE_FLOOR_SPREAD = 0.5  # s = rv_300s sqrt(h / 300) + 0.5 spread_bps: never 0 on a quiet book


@dataclass
class ScaledLinear:
    """y = X @ w_bps + s(X) * (X @ w_free), s(X) = X @ v + c: a linear model of the return in units of the venue's
    own recent volatility (exported as MatMul / Add / Mul)."""

    w_bps: np.ndarray
    w_free: np.ndarray
    v: np.ndarray
    c: float

    def predict(self, X: np.ndarray) -> np.ndarray:
        X32 = X.astype(np.float32)
        a = X32 @ self.w_bps.astype(np.float32)
        s = X32 @ self.v.astype(np.float32) + np.float32(self.c)
        f = X32 @ self.w_free.astype(np.float32)
        return (a + s * f).astype(np.float64)


def vol_scale_weights(names: list[str], h: int) -> tuple[np.ndarray, float]:
    v = np.zeros(len(names))
    v[names.index("rv_300s")] = math.sqrt(h / 300)
    v[names.index("spread_bps")] = SCALE_FLOOR_SPREAD
    return v, 1e-6


def _scaled_design(d: Data, h: int, bps: tuple[str, ...], free: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    v, c = vol_scale_weights(d.names, h)
    s = d.X @ v + c
    Z = np.stack([d.col(n) / s for n in bps] + [d.col(n) for n in free], axis=1)
    return Z, s


def fit_scaled(parts: list[Data], h: int, bps: tuple[str, ...], free: tuple[str, ...], alpha: float) -> ScaledLinear:
    """Ridge (no intercept) of z = y / s on the scale-free design, datasets weighted equally."""
    pooled, w = concat(parts, 6000)
    names = pooled.names
    v, c = vol_scale_weights(names, h)
    Z, s = _scaled_design(pooled, h, bps, free)
    z = pooled.Y[h] / s
    sd = np.sqrt(np.average(Z**2, axis=0, weights=w))
    sd[sd == 0] = 1.0
    coef = np.zeros(Z.shape[1]) if math.isinf(alpha) else Ridge(alpha=alpha * len(z), fit_intercept=False).fit(Z / sd, z, sample_weight=w).coef_ / sd
    w_bps, w_free = np.zeros(len(names)), np.zeros(len(names))
    for k, n in enumerate(bps):
        w_bps[names.index(n)] = coef[k]
    for k, n in enumerate(free):
        w_free[names.index(n)] = coef[len(bps) + k]
    return ScaledLinear(w_bps, w_free, v, c)


SCALED_GRID = (1.0, 10.0, 100.0, 1000.0, math.inf)


def select_scaled(parts: list[Data], h: int, bps: tuple[str, ...], free: tuple[str, ...]) -> tuple[float, list[dict[str, Any]]]:
    """Shrinkage chosen by NESTED leave-one-dataset-out over the training datasets: the alpha whose worst inner
    held-out RMSE ratio vs no-change is smallest (ties -> more shrinkage; inf = no-change). With one training dataset,
    an inner purged time split instead."""
    scores = []
    for a in SCALED_GRID:
        ratios = []
        if len(parts) >= 2:
            for k in range(len(parts)):
                m = fit_scaled([p for j, p in enumerate(parts) if j != k], h, bps, free, a)
                te = parts[k]
                ratios.append(math.sqrt(np.mean((te.Y[h] - m.predict(te.X)) ** 2) / max(np.mean(te.Y[h] ** 2), 1e-12)))
        else:
            p = parts[0]
            tr, va = inner_split(p.ts, h * 1000)
            if len(tr) < 50 or len(va) < 50:
                return math.inf, []
            m = fit_scaled([p.take(tr)], h, bps, free, a)
            y = p.Y[h][va]
            ratios.append(math.sqrt(np.mean((y - m.predict(p.X[va])) ** 2) / max(np.mean(y**2), 1e-12)))
        scores.append({"alpha": a, "worst_ratio": max(ratios), "ratios": ratios})
    best = min(scores, key=lambda s: (round(s["worst_ratio"], 6), -s["alpha"]))["alpha"]
    return best, scores


Head = Linear | Trees | ScaledLinear


# ------------------------------------------------------------------------------------------------ online slope


ONLINE_SLOPE_PRIOR_N = 1000.0  # the prior lambda = 1 weighs as much as this many typical forecasts
ONLINE_SLOPE_HALF_LIFE = 3600.0  # outcomes (one a second: an hour)


def online_slope_kappa(p_train: np.ndarray) -> float:
    """Prior weight in bps^2: ONLINE_SLOPE_PRIOR_N forecasts of the training set's mean squared size."""
    return float(ONLINE_SLOPE_PRIOR_N * max(np.mean(p_train**2), 1e-12))


def online_slope(ts: np.ndarray, y: np.ndarray, p: np.ndarray, h: int, kappa: float, half_life: float = ONLINE_SLOPE_HALF_LIFE) -> np.ndarray:
    """Per-instrument online calibration of a point head's magnitude, as src/predict/horizon.ts runs it: the served
    point is lambda * p with lambda = (kappa + S_py) / (kappa + S_pp) (a ridge estimate shrunk to 1), S_* sums of the
    REALISED outcomes only (feedback delayed by the horizon), exponentially forgotten with `half_life` outcomes,
    lambda clamped to [0, 50]. Venues differ in how far the same imbalance moves the price; this learns it live."""
    n = len(y)
    out = np.empty(n)
    spy = spp = 0.0
    j = 0
    due = ts + h * 1000
    decay = 0.5 ** (1.0 / half_life)
    for i in range(n):
        while j < i and due[j] < ts[i]:
            spy = spy * decay + p[j] * y[j]
            spp = spp * decay + p[j] * p[j]
            j += 1
        lam = min(max((kappa + spy) / (kappa + spp), 0.0), 50.0)
        out[i] = lam * p[i]
    return out
