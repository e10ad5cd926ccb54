"""Feature/target alignment and the purged split: no look-ahead anywhere in what training sees."""
from __future__ import annotations

import numpy as np
import pytest

from pipeline import load_rows, purged_split

H_MS = 60_000


def test_target_is_the_as_of_mid_at_ts_plus_horizon(btc_rows_csv):
    r = load_rows(btc_rows_csv)
    assert len(r) > 5000
    # Realised target: the last book at or before ts + H, strictly after the row's own book.
    assert np.all(r.target_ts <= r.ts + H_MS)
    assert np.all(r.target_ts > r.ts)
    np.testing.assert_allclose(r.y, 1e4 * np.log(r.target_mid / r.mid), rtol=0, atol=1e-9)
    # Where the target book is itself a row, its mid is the target mid, and the next row is past the horizon.
    pos = np.searchsorted(r.ts, r.target_ts, side="right") - 1  # last row with ts <= target_ts
    inside = (pos < len(r) - 1) & (r.ts[np.clip(pos, 0, len(r) - 1)] == r.target_ts)
    assert inside.mean() > 0.5
    np.testing.assert_array_equal(r.target_mid[inside], r.mid[pos[inside]])
    assert np.all(r.ts[pos[inside] + 1] > r.ts[inside] + H_MS)


def _as_of(ts: np.ndarray, cutoff: np.ndarray) -> np.ndarray:
    """Index of the last row with ts <= cutoff (-1 if none)."""
    return np.searchsorted(ts, cutoff, side="right") - 1


@pytest.mark.parametrize("stream", ["btc_rows_csv", "gemini_rows_csv"])
def test_every_mid_path_feature_is_recomputed_from_past_rows_only(stream, request):
    """Every feature that is a function of the mid path (returns over 1/5/30/60 s, realised volatility over 10/60/300 s,
    time since the mid changed) is recomputed here from the CSV's own ts/mid columns, using only rows at or before the
    row itself, and must equal what the TS code wrote. The book- and trade-level features (spread, microprice,
    imbalances, OFI, trade flow) need the book/trades, which the CSV does not carry: their no-look-ahead check is the
    truncation test in test/features-cli.test.ts (features of a row unchanged when the stream is cut right after it)."""
    r = load_rows(request.getfixturevalue(stream))
    assert not any("target" in n for n in r.feature_names)
    lm = np.log(r.mid)
    col = lambda n: r.X[:, r.feature_names.index(n)]  # noqa: E731
    # rows are every book change from the first book, so the first row is the stream's first book
    for w in (1, 5, 30, 60):
        j = _as_of(r.ts, r.ts - w * 1000)
        base = np.where(j >= 0, lm[np.clip(j, 0, None)], lm[0])
        np.testing.assert_allclose(col(f"ret_{w}s"), 1e4 * (lm - base), atol=1e-9, err_msg=f"ret_{w}s")
    step = np.r_[0.0, np.diff(lm) * 1e4]
    cum = np.cumsum(step**2)
    for w in (10, 60, 300):
        j = _as_of(r.ts, r.ts - w * 1000)
        rv = np.sqrt(np.maximum(cum - np.where(j >= 0, cum[np.clip(j, 0, None)], 0.0), 0))
        np.testing.assert_allclose(col(f"rv_{w}s"), rv, atol=1e-6, err_msg=f"rv_{w}s")
    changed = np.r_[True, lm[1:] != lm[:-1]]
    last_change = np.maximum.accumulate(np.where(changed, r.ts, -np.inf))
    np.testing.assert_allclose(col("since_mid_change_s"), np.minimum(60, (r.ts - last_change) / 1000), atol=1e-9)
    if stream == "btc_rows_csv":
        # this stream has no trades: every trade feature is at its documented neutral value
        for n in r.feature_names:
            if n.startswith(("tflow_", "tcount_")) or n == "last_trade_bps":
                assert np.all(col(n) == 0), n
    else:
        # the long windows are really exercised (history longer than 300 s), and the trade features are live
        assert r.ts[-1] - r.ts[0] > 600_000
        assert np.mean(col("tcount_60s") > 0) > 0.3


def test_purged_split_keeps_every_training_target_before_validation(btc_rows_csv):
    r = load_rows(btc_rows_csv)
    sp = purged_split(r.ts, H_MS, 0.35)
    assert len(sp.train) > 1000 and len(sp.val) > 1000
    assert r.ts[sp.train].max() + H_MS < r.ts[sp.val].min()
    assert r.target_ts[sp.train].max() < r.ts[sp.val].min()
    # Ordered, disjoint, and the purge is exactly the rows inside one horizon before validation.
    assert sp.train.max() < sp.val.min()
    purged = np.setdiff1d(np.arange(len(r)), np.concatenate([sp.train, sp.val]))
    assert len(purged) == sp.purged
    assert np.all((r.ts[purged] + H_MS >= sp.split_ts) & (r.ts[purged] < sp.split_ts))
