"""Plain dataclasses for everything a subscription yields (match on the class).

Prices and sizes stay the original strings the exchange sent (that is what the checksum covers and what
``POST /simulate/trade`` accepts); ``to_numpy()`` / ``to_pandas()`` convert to floats when asked.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # optional dependencies, imported only by the methods that need them
    import numpy as np
    import pandas as pd

UpstreamState = Literal["connecting", "live", "resyncing", "down"]


@dataclass(frozen=True, slots=True)
class Book:
    """A verified top-N order book (``type: "book"`` on ``/ws/okx``)."""

    inst_id: str
    seq: int
    """The relay's message number (acknowledged for flow control)."""
    ts: int
    """Exchange time of the last applied OKX message, Unix ms."""
    seq_id: int | None
    bids: tuple[tuple[str, str], ...]
    """Best first, ``(price, size)`` strings exactly as OKX sent them (size in contracts for derivatives)."""
    asks: tuple[tuple[str, str], ...]
    depth: int
    mid: float | None
    spread: float | None
    checksum: int

    @classmethod
    def from_message(cls, m: dict[str, Any]) -> Book:
        return cls(
            inst_id=m["instId"],
            seq=m["seq"],
            ts=m["ts"],
            seq_id=m.get("seqId"),
            bids=tuple((str(p), str(s)) for p, s, *_ in m["bids"]),
            asks=tuple((str(p), str(s)) for p, s, *_ in m["asks"]),
            depth=m["depth"],
            mid=m.get("mid"),
            spread=m.get("spread"),
            checksum=m["checksum"],
        )

    def age_ms(self, now_ms: float | None = None) -> float:
        """now - ts (client clock minus exchange clock, so it includes their skew)."""
        return (time.time() * 1000 if now_ms is None else now_ms) - self.ts

    def orderbook(self) -> dict[str, Any]:
        """The book in the shape ``simulate_trade(orderbook=...)`` accepts."""
        return {"bids": [list(l) for l in self.bids], "asks": [list(l) for l in self.asks], "ts": str(self.ts)}

    def to_numpy(self) -> tuple[np.ndarray, np.ndarray]:
        """``(bids, asks)`` as float64 arrays of shape (n, 2): columns price, size; best first."""
        import numpy as np

        def arr(levels: tuple[tuple[str, str], ...]) -> np.ndarray:
            return np.array([(float(p), float(s)) for p, s in levels], dtype=np.float64).reshape(-1, 2)

        return arr(self.bids), arr(self.asks)

    def to_pandas(self) -> pd.DataFrame:
        """One row per level: side (bid/ask), level (0 = best), price, size (floats)."""
        import pandas as pd

        rows = [("bid", i, float(p), float(s)) for i, (p, s) in enumerate(self.bids)]
        rows += [("ask", i, float(p), float(s)) for i, (p, s) in enumerate(self.asks)]
        return pd.DataFrame(rows, columns=["side", "level", "price", "size"])


@dataclass(frozen=True, slots=True)
class State:
    """The subscription's state: the relay's upstream state folded with this client's link and checksum."""

    state: UpstreamState
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Status:
    """The relay's report on its upstream OKX connection (raw)."""

    inst_id: str
    state: UpstreamState
    at: int
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class ChecksumMismatch:
    """``client``: a received book does not hash to its checksum (it is not yielded). ``relay``: the relay found
    OKX's own checksum wrong upstream and is resyncing."""

    source: Literal["client", "relay"]
    inst_id: str
    seq: int | None = None
    expected: int | None = None
    computed: int | None = None
    at: float = field(default_factory=time.time)


@dataclass(frozen=True, slots=True)
class Stale:
    """The book held is older than the subscription's bound (emitted once per crossing)."""

    inst_id: str
    ts: int
    age_ms: float
    bound_ms: float


@dataclass(frozen=True, slots=True)
class ServerError:
    """An ``error`` message from the relay, or the Worker's HTTP 4xx for a rejected subscription."""

    code: str
    message: str
    fatal: bool


@dataclass(frozen=True, slots=True)
class Link:
    """This client's own socket: ``open``, ``reconnecting`` (after ``delay`` s) or ``stopped``."""

    kind: Literal["open", "reconnecting", "stopped"]
    reason: str | None = None
    attempt: int = 0
    delay: float | None = None


@dataclass(frozen=True, slots=True)
class HorizonForecast:
    """One horizon of a forecast: the served point (the model's, or no-change when gated) and its 10 %/90 % band."""

    horizon_sec: int
    predicted_return_bps: float
    predicted_mid: float
    low_bps: float
    high_bps: float
    low: float
    high: float
    gated: bool
    point: Literal["model", "no-change"]

    @classmethod
    def from_message(cls, h: dict[str, Any]) -> HorizonForecast:
        return cls(
            h["horizonSec"], h["predictedReturnBps"], h["predictedMid"], h["lowBps"], h["highBps"], h["low"], h["high"],
            h["gated"], h["point"],
        )


@dataclass(frozen=True, slots=True)
class Prediction:
    """A multi-horizon mid-price forecast made on the book at ``ts`` (``/ws/prediction``)."""

    inst_id: str
    ts: int
    mid: float
    horizons: tuple[HorizonForecast, ...]
    model: dict[str, str]

    @classmethod
    def from_message(cls, m: dict[str, Any]) -> Prediction:
        return cls(m["instId"], m["ts"], m["mid"], tuple(HorizonForecast.from_message(h) for h in m["horizons"]), m["model"])

    def horizon(self, seconds: int) -> HorizonForecast | None:
        """The forecast for ``seconds`` ahead, if the model serves that horizon."""
        return next((h for h in self.horizons if h.horizon_sec == seconds), None)


@dataclass(frozen=True, slots=True)
class HorizonScore:
    """Rolling live score of one horizon's served forecasts against no-change."""

    horizon_sec: int
    count: int
    windows: int
    """Independent outcomes in the window (its span / horizon)."""
    mae_bps: float
    rmse_bps: float
    baseline_rmse_bps: float
    skill: float | None
    model_skill: float | None
    hit_rate: float | None
    coverage: float | None
    mean_width_bps: float | None
    gated: bool

    @classmethod
    def from_message(cls, h: dict[str, Any]) -> HorizonScore:
        return cls(
            h["horizonSec"], h["count"], h["windows"], h["maeBps"], h["rmseBps"], h["baselineRmseBps"], h.get("skill"),
            h.get("modelSkill"), h.get("hitRate"), h.get("coverage"), h.get("meanWidthBps"), h["gated"],
        )


@dataclass(frozen=True, slots=True)
class Score:
    """Per-horizon live scores (``/ws/prediction``)."""

    inst_id: str
    ts: int
    horizons: tuple[HorizonScore, ...]
    model: dict[str, str]

    @classmethod
    def from_message(cls, m: dict[str, Any]) -> Score:
        return cls(m["instId"], m["ts"], tuple(HorizonScore.from_message(h) for h in m["horizons"]), m["model"])


@dataclass(frozen=True, slots=True)
class Lagging:
    """The relay's staleness bound is exceeded. scope "client": this client's oldest unacknowledged book is too old;
    it gets no book until it acks (asking for the next event does), and is closed (4009) if it stays behind. scope
    "relay": the relay or shard serving it is itself behind the exchange by lag_ms; books keep coming."""

    inst_id: str
    lag_ms: float
    bound_ms: float
    at: int
    scope: str = "client"


Event = Book | State | Status | ChecksumMismatch | Stale | ServerError | Link | Lagging | Prediction | Score
