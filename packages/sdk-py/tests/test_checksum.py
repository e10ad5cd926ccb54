"""okx_checksum against the repo's OKX checksum vectors (data/okx-checksum-vectors: OKX's docs, gocryptotrader,
bmoscon/orderbook and a real cryptofeed capture)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tradesim_client import checksum_string, okx_checksum

VECTORS = json.loads((Path(__file__).resolve().parents[3] / "data/okx-checksum-vectors/okx_checksum_vectors.json").read_text())["vectors"]
POSITIVE = [v for v in VECTORS if "expected_checksum_signed" in v]


def test_has_the_five_positive_vectors() -> None:
    assert len(POSITIVE) == 5


@pytest.mark.parametrize("v", POSITIVE, ids=[v["name"][:40] for v in POSITIVE])
def test_vector(v: dict) -> None:
    assert okx_checksum(v["bids"], v["asks"]) == v["expected_checksum_signed"]
    if "expected_string" in v:
        assert checksum_string(v["bids"], v["asks"]) == v["expected_string"]


def test_negative_vector_is_not_self_consistent() -> None:
    neg = next(v for v in VECTORS if v["name"].startswith("NEGATIVE"))
    assert okx_checksum(neg["bids"], neg["asks"]) == neg["computed_checksum_signed"]
    assert okx_checksum(neg["bids"], neg["asks"]) != neg["doc_checksum"]


def test_only_the_top_25_levels_count_and_the_result_is_signed() -> None:
    v = POSITIVE[2]  # 39 bids / 37 asks
    assert okx_checksum(v["bids"][:25], v["asks"][:25]) == okx_checksum(v["bids"], v["asks"]) < 0
    changed = [list(l) for l in v["bids"]]
    changed[25][1] = "123"  # level 26 is outside the checksum
    assert okx_checksum(changed, v["asks"]) == v["expected_checksum_signed"]
    changed[24][1] = "123"
    assert okx_checksum(changed, v["asks"]) != v["expected_checksum_signed"]
