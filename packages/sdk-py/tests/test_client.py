"""The client against an in-process fake relay (a real WebSocket server scripted by the test): verification,
acks, reconnect with backoff, fatal errors, the 400 before the upgrade, staleness, predictions, models."""

from __future__ import annotations

import asyncio
import json
import time
from http import HTTPStatus
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve

from tradesim_client import (
    Book,
    ChecksumMismatch,
    HorizonForecast,
    Lagging,
    Link,
    Prediction,
    ServerError,
    Stale,
    State,
    TradeSimClient,
    backoff_delay,
)

INST = "BTC-USDT-SWAP"
# gocryptotrader's real OKX books snapshot (data/okx-checksum-vectors), top 25 a side, as the relay sends depth 25.
_V = json.loads((Path(__file__).resolve().parents[3] / "data/okx-checksum-vectors/okx_checksum_vectors.json").read_text())["vectors"][2]
BIDS = [[l[0], l[1]] for l in _V["bids"][:25]]
ASKS = [[l[0], l[1]] for l in _V["asks"][:25]]
CHECKSUM = _V["expected_checksum_signed"]


def book_msg(seq: int, **patch: Any) -> str:
    m = {"type": "book", "instId": INST, "seq": seq, "ts": int(time.time() * 1000), "seqId": 100 + seq, "bids": BIDS, "asks": ASKS, "depth": 25, "mid": 1.0, "spread": 0.1, "checksum": CHECKSUM}
    m.update(patch)
    return json.dumps(m)


def status_msg(state: str, reason: str | None = None) -> str:
    return json.dumps({"type": "status", "instId": INST, "state": state, "at": 1, **({"reason": reason} if reason else {})})


class FakeRelay:
    """A WebSocket server; each connection is handed to the test through `conns` and records what it receives."""

    def __init__(self) -> None:
        self.conns: asyncio.Queue[ServerConnection] = asyncio.Queue()
        self.received: list[str] = []
        self.paths: list[str] = []
        self.reject: tuple[int, str] | None = None
        self.count = 0

    async def __aenter__(self) -> FakeRelay:
        async def handler(ws: ServerConnection) -> None:
            self.count += 1
            self.paths.append(ws.request.path if ws.request else "")
            await self.conns.put(ws)
            try:
                async for m in ws:
                    self.received.append(m if isinstance(m, str) else m.decode())
            except Exception:
                pass

        def process_request(conn: ServerConnection, request: Any) -> Any:
            if self.reject is not None:
                return conn.respond(HTTPStatus(self.reject[0]), self.reject[1])
            return None

        self.server = await serve(handler, "127.0.0.1", 0, process_request=process_request)
        self.base_url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()
        await self.server.wait_closed()

    def acks(self) -> list[int]:
        return [json.loads(m)["seq"] for m in self.received if m.startswith("{")]

    async def next_conn(self, timeout: float = 5) -> ServerConnection:
        return await asyncio.wait_for(self.conns.get(), timeout)


def client(base_url: str) -> TradeSimClient:
    return TradeSimClient(base_url, backoff_base=0.2, backoff_max=2.0, rnd=lambda: 0.0)


async def until(pred: Any, timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > end:
            raise AssertionError("timed out")
        await asyncio.sleep(0.01)


async def test_verified_books_at_depth_with_acks() -> None:
    async with FakeRelay() as relay, client(relay.base_url) as ts:
        async with ts.subscribe_book(INST, depth=5) as sub:
            ws = await relay.next_conn()
            assert relay.paths == ["/ws/okx?instId=BTC-USDT-SWAP&depth=25"]
            await ws.send(status_msg("live"))
            for seq in (1, 2, 3):
                await ws.send(book_msg(seq))
            got: list[Book] = []
            async for b in sub:
                got.append(b)
                if len(got) == 3:
                    break
            assert [b.seq for b in got] == [1, 2, 3]
            assert got[0].bids == tuple((p, s) for p, s in BIDS[:5]) and len(got[0].asks) == 5 and got[0].depth == 5
            assert sub.verified == 3 and sub.mismatches == 0 and sub.state == State("live")
            # Each book is acked when the consumer asked for the next event: 1 and 2 so far.
            await until(lambda: relay.acks() == [1, 2])


async def test_tampered_book_reported_not_yielded_and_three_in_a_row_reconnect() -> None:
    async with FakeRelay() as relay, client(relay.base_url) as ts:
        async with ts.subscribe_book(INST) as sub:
            ws = await relay.next_conn()
            tampered = [list(l) for l in BIDS]
            tampered[0][1] = str(float(tampered[0][1]) + 1)
            await ws.send(book_msg(1))
            await ws.send(book_msg(2, bids=tampered))
            await ws.send(book_msg(3))
            events = sub.events()
            seen: list[Any] = []
            while len([e for e in seen if isinstance(e, Book)]) < 2:
                seen.append(await asyncio.wait_for(events.__anext__(), 5))
            mism = [e for e in seen if isinstance(e, ChecksumMismatch)]
            assert [b.seq for b in seen if isinstance(b, Book)] == [1, 3]
            assert len(mism) == 1 and mism[0].source == "client" and mism[0].seq == 2
            assert mism[0].expected == CHECKSUM and mism[0].computed != CHECKSUM
            assert State("resyncing", "checksum mismatch (client)") in seen
            await until(lambda: 2 in relay.acks())  # the rejected book is acked too
            for seq in (4, 5, 6):
                await ws.send(book_msg(seq, checksum=12345))
            ws2 = await relay.next_conn()  # the client dropped the untrusted stream and reconnected
            assert sub.mismatches == 4
            await ws2.send(book_msg(1))
            while True:
                e = await asyncio.wait_for(events.__anext__(), 5)
                if isinstance(e, Book):
                    break
            assert sub.reconnects == 1


async def test_reconnect_with_backoff_after_the_server_closes() -> None:
    async with FakeRelay() as relay, client(relay.base_url) as ts:
        async with ts.subscribe_book(INST) as sub:
            ws = await relay.next_conn()
            await ws.close(1012, "restart")
            events = sub.events()
            link = None
            while not (isinstance(link, Link) and link.kind == "reconnecting"):
                link = await asyncio.wait_for(events.__anext__(), 5)
            assert link.reason == "closed 1012: restart"
            assert link.delay == backoff_delay(0, 0.2, 2.0, lambda: 0.0) == 0.1
            t0 = time.monotonic()
            ws2 = await relay.next_conn()
            assert time.monotonic() - t0 >= 0.05
            await ws2.send(book_msg(9))
            while not isinstance(e := await asyncio.wait_for(events.__anext__(), 5), Book):
                pass
            assert e.seq == 9 and sub.reconnects == 1


def test_backoff_matches_the_relays_rule() -> None:
    # src/relay/backoff.ts: exp = min(cap, base * 2^attempt); delay = exp/2 + random * exp/2.
    assert [backoff_delay(a, 0.5, 15, lambda: 0.0) for a in range(7)] == [0.25, 0.5, 1, 2, 4, 7.5, 7.5]
    assert backoff_delay(2, 0.5, 15, lambda: 1.0) == 2.0


async def test_fatal_error_and_close_4004_end_the_subscription() -> None:
    async with FakeRelay() as relay, client(relay.base_url) as ts:
        async with ts.subscribe_book(INST) as sub:
            ws = await relay.next_conn()
            await ws.send(json.dumps({"type": "error", "code": "unknown_instrument", "message": "OKX does not know it", "fatal": True}))
            await ws.close(4004, "unknown instrument")
            events = [e async for e in sub.events()]  # ends by itself
            assert ServerError("unknown_instrument", "OKX does not know it", True) in events
            assert events[-1] == State("down", "OKX does not know it")
            assert Link("stopped", "OKX does not know it") in events
            await asyncio.sleep(0.3)
            assert relay.count == 1  # no retry


async def test_http_400_before_the_upgrade_is_a_fatal_server_error() -> None:
    async with FakeRelay() as relay, client(relay.base_url) as ts:
        relay.reject = (400, json.dumps({"error": {"code": "unknown_instId", "message": "SOL-USDT-SWAP is not served here", "path": "instId"}}))
        async with ts.subscribe_book("SOL-USDT-SWAP") as sub:
            events = [e async for e in sub.events()]
            assert events[0] == ServerError("unknown_instId", "SOL-USDT-SWAP is not served here", True)
            assert sub.state == State("down", "SOL-USDT-SWAP is not served here")


async def test_stale_once_per_crossing() -> None:
    async with FakeRelay() as relay, client(relay.base_url) as ts:
        async with ts.subscribe_book(INST, stale_after=0.3) as sub:
            ws = await relay.next_conn()
            await ws.send(book_msg(1, ts=int(time.time() * 1000) - 200))
            events = sub.events()
            assert isinstance(await asyncio.wait_for(events.__anext__(), 5), Link)
            assert await asyncio.wait_for(events.__anext__(), 5) == State("live")
            b = await asyncio.wait_for(events.__anext__(), 5)
            assert isinstance(b, Book) and 150 <= sub.age_ms() < 1000
            stale = await asyncio.wait_for(events.__anext__(), 5)
            assert isinstance(stale, Stale) and stale.bound_ms == 300 and 300 < stale.age_ms < 700
            assert sub.stale
            await ws.send(book_msg(2))
            nxt = await asyncio.wait_for(events.__anext__(), 5)
            assert isinstance(nxt, Book) and not sub.stale


async def test_predictions_are_acked() -> None:
    model = {"name": "mid60", "version": "v"}
    h = {"horizonSec": 60, "predictedReturnBps": 50, "lowBps": -100, "highBps": 100, "low": 99, "high": 101, "gated": False, "point": "model"}
    async with FakeRelay() as relay, client(relay.base_url) as ts:
        async with ts.subscribe_predictions(INST) as sub:
            ws = await relay.next_conn()
            assert relay.paths == ["/ws/prediction?instId=BTC-USDT-SWAP"]
            for mid in (100.5, 101.0):
                await ws.send(json.dumps({"type": "prediction", "instId": INST, "ts": 1, "mid": 100, "horizons": [{**h, "predictedMid": mid}], "model": model}))
            got = []
            async for p in sub:
                got.append(p)
                if len(got) == 2:
                    break
            assert isinstance(got[0], Prediction) and [p.horizon(60).predicted_mid for p in got] == [100.5, 101.0]
            assert got[0].horizons[0] == HorizonForecast(60, 50, 100.5, -100, 100, 99, 101, False, "model")
            assert got[0].horizon(5) is None
            await until(lambda: relay.acks() == [0])


async def test_lagging_notice() -> None:
    async with FakeRelay() as relay, client(relay.base_url) as ts:
        async with ts.subscribe_book(INST) as sub:
            ws = await relay.next_conn()
            await ws.send(json.dumps({"type": "lagging", "instId": INST, "lagMs": 2300, "boundMs": 2000, "at": 5}))
            events = sub.events()
            while not isinstance(e := await asyncio.wait_for(events.__anext__(), 5), Lagging):
                pass
            assert e == Lagging(INST, 2300, 2000, 5)


def test_book_exports() -> None:
    np = pytest.importorskip("numpy")
    pytest.importorskip("pandas")
    b = Book.from_message(json.loads(book_msg(1)))
    bids, asks = b.to_numpy()
    assert bids.shape == (25, 2) and asks.shape == (25, 2)
    assert bids[0, 0] == float(BIDS[0][0]) and asks[0, 1] == float(ASKS[0][1])
    assert np.all(np.diff(bids[:, 0]) < 0) and np.all(np.diff(asks[:, 0]) > 0)
    df = b.to_pandas()
    assert list(df.columns) == ["side", "level", "price", "size"] and len(df) == 50
    assert df[df.side == "ask"].iloc[0].price == float(ASKS[0][0])
    assert b.orderbook()["bids"][0] == BIDS[0]
