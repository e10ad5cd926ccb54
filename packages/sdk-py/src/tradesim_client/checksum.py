"""OKX order-book checksum, as TradeSim's relay computes it for every book message it sends.

CRC-32 (zlib) over the top 25 levels per side interleaved as ``bid1px:bid1sz:ask1px:ask1sz:...`` using the
original price/size strings; a side with fewer levels just contributes fewer entries. Compared as a signed int32
(the JSON ``checksum`` field).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

CHECKSUM_DEPTH = 25
"""Levels per side the checksum covers."""

Level = Sequence[str]


def checksum_string(bids: Sequence[Level], asks: Sequence[Level]) -> str:
    """The exact string OKX hashes."""
    parts: list[str] = []
    for i in range(max(min(len(bids), CHECKSUM_DEPTH), min(len(asks), CHECKSUM_DEPTH))):
        if i < len(bids):
            parts.append(f"{bids[i][0]}:{bids[i][1]}")
        if i < len(asks):
            parts.append(f"{asks[i][0]}:{asks[i][1]}")
    return ":".join(parts)


def okx_checksum(bids: Sequence[Level], asks: Sequence[Level]) -> int:
    """OKX checksum of a book (best first on each side) as a signed int32."""
    crc = zlib.crc32(checksum_string(bids, asks).encode("ascii"))
    return crc - (1 << 32) if crc >= (1 << 31) else crc
