"""
The seed stack's peer for bench/simulate.ts: FastAPI + pydantic + orjson + uvicorn (one worker) doing the same
walk as POST /simulate/trade on the request path: OKX string levels parsed and validated (positive, finite,
strictly monotone, not crossed), the contracts order rounded to lotSz and walked, VWAP, slippage vs mid and best,
taker fee and net cost. Started by the bench in its own venv (bench/peer-fastapi/.venv, git-ignored).
"""
import math

import orjson
from fastapi import FastAPI
from fastapi.responses import ORJSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

app = FastAPI(default_response_class=ORJSONResponse)


class Instrument(BaseModel):
    model_config = ConfigDict(extra="forbid")
    instType: str
    ctVal: float = Field(gt=0)
    ctMult: float = Field(gt=0, default=1)
    ctType: str
    tickSz: float = Field(gt=0)
    lotSz: float = Field(gt=0)
    minSz: float = Field(gt=0)


class Book(BaseModel):
    model_config = ConfigDict(extra="forbid")
    bids: list[list[str | float]] = Field(max_length=5000)
    asks: list[list[str | float]] = Field(max_length=5000)


class Req(BaseModel):
    model_config = ConfigDict(extra="forbid")
    instId: str
    side: str
    contracts: float = Field(gt=0)
    feeTier: str = "Lv1"
    orderbook: Book
    instrument: Instrument

    @field_validator("side")
    @classmethod
    def side_ok(cls, v: str) -> str:
        if v not in ("buy", "sell"):
            raise ValueError("side must be buy or sell")
        return v


def parse_side(raw: list, desc: bool) -> list[tuple[float, float]]:
    out = []
    prev = math.nan
    for lv in raw:
        if len(lv) < 2:
            raise ValueError("bad level")
        p, s = float(lv[0]), float(lv[1])
        if not (p > 0 and s > 0 and math.isfinite(p) and math.isfinite(s)):
            raise ValueError("bad value")
        if out and (p == prev or (p > prev if desc else p < prev)):
            raise ValueError("unsorted")
        out.append((p, s))
        prev = p
    return out


@app.post("/simulate/trade")
def simulate(req: Req):
    try:
        bids = parse_side(req.orderbook.bids, True)
        asks = parse_side(req.orderbook.asks, False)
    except ValueError as e:
        return ORJSONResponse({"error": {"code": "invalid_level", "message": str(e)}}, status_code=400)
    if not bids or not asks or bids[0][0] >= asks[0][0]:
        return ORJSONResponse({"error": {"code": "crossed_book", "message": "bad book"}}, status_code=400)
    k = req.instrument.ctVal * req.instrument.ctMult
    lot = req.instrument.lotSz
    order = math.floor(req.contracts / lot + 1e-9) * lot
    levels = asks if req.side == "buy" else bids
    left, base, quote, used, worst = order, 0.0, 0.0, 0, levels[0][0]
    for p, s in levels:
        take = min(s, left)
        base += take * k
        quote += take * k * p
        used += 1
        worst = p
        left -= take
        if left <= lot * 1e-9:
            left = 0.0
            break
    mid = (bids[0][0] + asks[0][0]) / 2
    best = levels[0][0]
    avg = quote / base
    sign = 1 if req.side == "buy" else -1
    fee = 0.0005 * quote
    vs_mid = sign * (avg - mid) * base
    return {
        "instId": req.instId,
        "side": req.side,
        "fill": {"filledContracts": order - left, "filledBase": base, "filledQuote": quote, "avgPrice": avg, "bestPrice": best,
                 "worstPrice": worst, "midPrice": mid, "levelsConsumed": used, "fullyFilled": left == 0},
        "slippage": {"vsMidBps": sign * (avg - mid) * 1e4 / mid, "vsMidQuote": vs_mid, "vsBestQuote": sign * (avg - best) * base},
        "fee": {"rate": 0.0005, "amountQuote": fee},
        "netCost": {"quote": vs_mid + fee, "bps": (vs_mid + fee) * 1e4 / (base * mid)},
    }


_ = orjson  # ORJSONResponse needs orjson installed
