"""The client against the real local stack (wrangler dev + the local OKX exchange replaying real data), faults
injected through the exchange's control API (POST /__control/fault) as in the TypeScript SDK's e2e test."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from tradesim_client import Book, ChecksumMismatch, Link, Prediction, ServerError, State, TradeSimApiError, TradeSimClient, okx_checksum

INST = "BTC-USDT-SWAP"


async def fault(stack: dict[str, str], kind: str) -> int:
    async with httpx.AsyncClient() as h:
        r = await h.post(f"{stack['exchangeHttp']}/__control/fault", json={"type": kind, "after": 0, "scope": "all", "instId": INST})
        assert r.status_code == 200
        return r.json()["armed"]


async def collect(sub: Any, stop: Any, timeout: float) -> list[Any]:
    """Events until `stop(events)` is true; fails after `timeout` seconds."""
    out: list[Any] = []

    async def run() -> None:
        async for ev in sub.events():
            out.append(ev)
            if stop(out):
                return

    try:
        await asyncio.wait_for(run(), timeout)
    except TimeoutError as e:
        raise AssertionError(f"timed out; last events: {out[-5:]}") from e
    return out


def books(evs: list[Any]) -> list[Book]:
    return [e for e in evs if isinstance(e, Book)]


async def test_verified_books_from_the_replay(stack: dict[str, str]) -> None:
    async with TradeSimClient(stack["baseUrl"]) as ts, ts.subscribe_book(INST, depth=5) as sub:
        evs = await collect(sub, lambda e: len(books(e)) >= 20, 60)
        bs = books(evs)
        assert sub.verified >= 20 and sub.mismatches == 0 and sub.state == State("live")
        for b in bs:
            assert b.inst_id == INST and len(b.bids) <= 5 and len(b.asks) <= 5
            assert float(b.bids[0][0]) < float(b.asks[0][0])
        # seq is per relay instance: it only increases on one socket (wrangler dev reloads when web/dist changes).
        last = -1
        for e in evs:
            if isinstance(e, Link) and e.kind == "open":
                last = -1
            elif isinstance(e, Book):
                assert e.seq > last, [x.seq if isinstance(x, Book) else x for x in evs]
                last = e.seq
        assert 0 <= sub.age_ms() < 10_000  # live-looking replay timestamps, loopback
        # Depth 25 books verify with the plain zlib string formula too.
        full = bs[-1]
        assert isinstance(full.checksum, int)


async def test_relay_checksum_fault_is_reported_and_books_resume(stack: dict[str, str]) -> None:
    async with TradeSimClient(stack["baseUrl"]) as ts, ts.subscribe_book(INST) as sub:
        await collect(sub, lambda e: len(books(e)) >= 1, 60)
        assert await fault(stack, "checksum") > 0
        evs = await collect(sub, lambda e: State("resyncing", "checksum") in e, 30)
        m = next(x for x in evs if isinstance(x, ChecksumMismatch))
        assert m.source == "relay" and m.inst_id == INST
        before = sub.verified
        await collect(sub, lambda e: sub.state == State("live") and sub.verified > before + 3, 30)
        assert sub.mismatches == 0


async def test_survives_the_upstream_drop_fault(stack: dict[str, str]) -> None:
    async with TradeSimClient(stack["baseUrl"]) as ts, ts.subscribe_book(INST) as sub:
        await collect(sub, lambda e: len(books(e)) >= 1, 60)
        assert await fault(stack, "drop") > 0
        evs = await collect(sub, lambda e: any(isinstance(x, State) and x.state == "down" for x in e), 30)
        down = next(x for x in evs if isinstance(x, State) and x.state == "down")
        assert down.reason is not None and "closed 1006" in down.reason
        before = sub.verified
        await collect(sub, lambda e: sub.state == State("live") and sub.verified > before + 3, 30)
        assert sub.mismatches == 0 and sub.reconnects == 0  # the relay reconnected upstream; our socket stayed


async def test_simulate_trade_on_the_live_book(stack: dict[str, str]) -> None:
    async with TradeSimClient(stack["baseUrl"]) as ts:
        async with ts.subscribe_book(INST, depth=50) as sub:
            await collect(sub, lambda e: len(books(e)) >= 1, 60)
        b = sub.book
        assert b is not None
        r = await ts.simulate_trade(instId=INST, side="buy", contracts=1, orderbook=b.orderbook())
        assert r["fill"]["bestPrice"] == float(b.asks[0][0]) and r["fill"]["filledContracts"] == 1
        with pytest.raises(TradeSimApiError) as ei:
            await ts.simulate_trade(instId=INST, side="buy", contracts=0, orderbook=b.orderbook())
        assert ei.value.status == 400 and ei.value.path == "contracts"


async def test_refused_and_unknown_instruments_end_with_a_fatal_error(stack: dict[str, str]) -> None:
    async with TradeSimClient(stack["baseUrl"]) as ts:
        async with ts.subscribe_book("SOL-USDT-SWAP") as sub:  # not allowed: 400 before the upgrade
            evs = [e async for e in sub.events()]  # ends by itself
            err = next(x for x in evs if isinstance(x, ServerError))
            assert err.fatal and err.code == "unknown_instId" and "SOL-USDT-SWAP is not served here" in err.message
        async with ts.subscribe_book("ETH-USDT-SWAP") as sub:  # allowed, but the exchange does not list it
            t0 = time.monotonic()
            evs = [e async for e in sub.events()]
            assert time.monotonic() - t0 < 30
            err = next(x for x in evs if isinstance(x, ServerError))
            assert err.fatal and err.code == "unknown_instrument"
            assert sub.state.state == "down"


async def test_predictions(stack: dict[str, str]) -> None:
    async with TradeSimClient(stack["baseUrl"]) as ts, ts.subscribe_predictions(INST) as sub:
        evs = await collect(sub, lambda e: any(isinstance(x, Prediction) for x in e), 30)
        p = next(x for x in evs if isinstance(x, Prediction))
        assert p.inst_id == INST and len(p.horizons) > 0
        for h in p.horizons:
            assert h.horizon_sec > 0 and h.low <= h.predicted_mid <= h.high


def test_checksum_formula_on_a_live_book(stack: dict[str, str]) -> None:
    """A depth-25 book straight from the relay hashes to its checksum with zlib (no client code in the loop)."""

    async def one() -> Book:
        async with TradeSimClient(stack["baseUrl"]) as ts, ts.subscribe_book(INST, depth=25) as sub:
            evs = await collect(sub, lambda e: len(books(e)) >= 1, 60)
            return books(evs)[0]

    b = asyncio.run(one())
    assert len(b.bids) == 25 and okx_checksum(b.bids, b.asks) == b.checksum


async def test_protocol_pings_are_answered_by_the_runtime(stack: dict[str, str]) -> None:
    """Keepalive: websockets' protocol-level pings (every 0.3 s here, timeout 0.3 s) get their pongs from workerd
    without the relay's help, so the link never drops for a missing pong."""
    async with TradeSimClient(stack["baseUrl"], ping_interval=0.3) as ts, ts.subscribe_book(INST) as sub:
        await collect(sub, lambda e: len(books(e)) >= 1, 60)
        t0 = time.monotonic()
        before = sub.verified
        await collect(sub, lambda e: time.monotonic() - t0 > 3, 30)
        assert sub.reconnects == 0 and sub.link == Link("open")
        assert sub.verified > before
