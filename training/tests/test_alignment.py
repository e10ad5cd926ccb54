"""Feature/target alignment and the purged split: no look-ahead anywhere in what training sees."""
from __future__ import annotations

import numpy as np

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


def test_no_feature_is_a_function_of_the_future(btc_rows_csv):
    r = load_rows(btc_rows_csv)
    assert not any("target" in n for n in r.feature_names)
    # Trailing-window features must agree with the mid path up to the row itself: the 1 s return equals the log
    # change of the mid since the last row at or before ts - 1 s (rows are every book change).
    lm = np.log(r.mid)
    j = np.searchsorted(r.ts, r.ts - 1000, side="right") - 1
    ok = j >= 0
    ret1 = r.X[:, r.feature_names.index("ret_1s")]
    np.testing.assert_allclose(ret1[ok], 1e4 * (lm[ok] - lm[j[ok]]), atol=1e-9)


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
