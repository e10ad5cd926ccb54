"""Training on synthetic rows with a planted signal recovers it; on pure noise it ships no-change."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pipeline import load_rows, train

H = 60.0


def write_synthetic(path: Path, names: list[str], signal: float, seed: int = 7, n: int = 12_000, dt_ms: int = 250) -> Path:
    """Rows in the features CLI's format: persistent (AR(1)) features, target = signal * imb_l1 + noise."""
    rng = np.random.default_rng(seed)
    F = len(names)
    X = np.zeros((n, F))
    rho = 0.995  # features drift on a ~50 s scale, like book state
    eps = rng.standard_normal((n, F)) * np.sqrt(1 - rho**2)
    X[0] = rng.standard_normal(F)
    for i in range(1, n):
        X[i] = rho * X[i - 1] + eps[i]
    k = names.index("imb_l1")
    y = signal * X[:, k] + 4.0 * rng.standard_normal(n)
    ts = 1_700_000_000_000 + np.arange(n, dtype=np.int64) * dt_ms
    mid = 60_000 * np.exp(np.cumsum(rng.standard_normal(n)) * 1e-5)
    target_ts = ts + int(H * 1000)
    target_mid = mid * np.exp(y / 1e4)
    y = 1e4 * np.log(target_mid / mid)
    cols = ["ts", "mid", *names, "target_ts", "target_mid", "target_bps"]
    with path.open("w") as f:
        f.write(",".join(cols) + "\n")
        for i in range(n):
            f.write(",".join([str(int(ts[i])), repr(float(mid[i])), *(repr(float(v)) for v in X[i]), str(int(target_ts[i])), repr(float(target_mid[i])), repr(float(y[i]))]) + "\n")
    meta = {"featureVersion": "synthetic", "featureNames": names, "horizonSec": H, "instId": "SYN-USDT", "source": "synthetic"}
    Path(f"{path}.json").write_text(json.dumps(meta))
    return path


@pytest.fixture(scope="module")
def planted(tmp_path_factory, feature_names):
    rows = load_rows(write_synthetic(tmp_path_factory.mktemp("syn") / "planted.csv", feature_names, signal=5.0))
    return rows, train(rows, H)


def test_planted_signal_is_recovered_and_ships(planted, feature_names):
    rows, r = planted
    v = r.metrics["validation"]
    assert r.shipped.kind == "ridge", r.decision
    assert v["ridge"]["rmse_bps"] < 0.9 * v["no_change"]["rmse_bps"]
    assert v["ridge"]["r2_vs_no_change"] > 0.3
    assert v["ridge"]["directional_accuracy"] > 0.7
    # The planted feature carries the largest standardised weight, with the right sign and roughly the right size
    # (weight per unit of the feature: 5 bps; shrinkage may pull it a little toward 0).
    ridge = r.candidate.point.named_steps["ridge"]
    scale = r.candidate.point.named_steps["scale"].scale_
    k = feature_names.index("imb_l1")
    assert np.argmax(np.abs(ridge.coef_)) == k
    assert 3.5 < ridge.coef_[k] / scale[k] < 5.5
    # The quantile heads track the spread of the noise: roughly 80% of validation outcomes inside [q10, q90].
    assert 0.65 < v["ridge"]["interval"]["coverage"] < 0.92


def test_pure_noise_ships_no_change(tmp_path, feature_names):
    rows = load_rows(write_synthetic(tmp_path / "noise.csv", feature_names, signal=0.0, seed=11))
    r = train(rows, H)
    assert r.shipped.kind == "no-change", r.decision
    pred = r.shipped.predict(rows.X[:100])
    assert np.all(pred[:, 0] == 0)
    assert np.all(pred[:, 1] < 0) and np.all(pred[:, 2] > 0)


def test_too_short_a_stream_is_refused(tmp_path, feature_names):
    rows = load_rows(write_synthetic(tmp_path / "short.csv", feature_names, signal=1.0, n=300, dt_ms=250))  # 75 s
    with pytest.raises(ValueError, match="not enough rows"):
        train(rows, H)
