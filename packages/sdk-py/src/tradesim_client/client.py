"""Async TradeSim client: verified order books and forecasts over WebSocket, trade simulation over HTTP.

    async with TradeSimClient("http://127.0.0.1:8787") as ts:
        async with ts.subscribe_book("BTC-USDT-SWAP", depth=5) as sub:
            async for book in sub:          # verified books only; sub.events() yields every event
                print(book.seq, book.bids[0], book.asks[0], book.age_ms())
        fill = await ts.simulate_trade({"instId": "BTC-USDT-SWAP", "side": "buy", "contracts": 1, "orderbook": ...})

Each subscription is one WebSocket kept up by a background task: reconnect with exponential backoff and equal
jitter (the relay's own rule), keepalive pings, every book checked against its CRC32 and acknowledged
(``{"op":"ack","seq":N}``) once the consumer asks for the next event, so the relay's flow control follows the
consumer: a slow reader is conflated to the latest book instead of queueing every update.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import quote

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from .checksum import CHECKSUM_DEPTH, okx_checksum
from .models import Book, ChecksumMismatch, Event, Lagging, Link, Prediction, Score, ServerError, Stale, State, Status

DEFAULT_DEPTH = 25
MAX_DEPTH = 400
CLOSE_UNKNOWN_INSTRUMENT = 4004
"""Close code after an ``unknown_instrument`` error (src/protocol.ts CLOSE.unknownInstrument)."""


class TradeSimApiError(Exception):
    """A non-2xx answer of the HTTP API: ``{"error": {"code", "message", "path"?}}`` with its status."""

    def __init__(self, status: int, code: str, message: str, path: str | None = None) -> None:
        super().__init__(f"{status} {code}: {message}" + (f" (at {path})" if path else ""))
        self.status = status
        self.code = code
        self.message = message
        self.path = path


def backoff_delay(attempt: int, base: float, cap: float, rnd: Callable[[], float] = random.random) -> float:
    """Exponential backoff with equal jitter (half fixed, half random), capped: src/relay/backoff.ts."""
    exp = min(cap, base * 2 ** min(max(attempt, 0), 30))
    return exp / 2 + rnd() * (exp / 2)


def _ws_base(base_url: str) -> str:
    return "ws" + base_url[len("http") :] if base_url.startswith("http") else base_url


def _error_from_body(status: int, body: bytes | str) -> TradeSimApiError:
    try:
        err = json.loads(body)["error"]
        return TradeSimApiError(status, str(err["code"]), str(err["message"]), err.get("path"))
    except (ValueError, KeyError, TypeError):
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        return TradeSimApiError(status, f"http_{status}", f"HTTP {status}: {text[:200]}")


class _Subscription:
    """One reconnecting WebSocket feeding an event queue (single consumer)."""

    def __init__(
        self,
        url: str,
        inst_id: str,
        *,
        backoff_base: float,
        backoff_max: float,
        ping_interval: float,
        rnd: Callable[[], float],
    ) -> None:
        self.inst_id = inst_id
        self.url = url
        self.state = State("connecting")
        self.link: Link | None = None
        self.reconnects = 0
        self._backoff = (backoff_base, backoff_max)
        self._ping_interval = ping_interval
        self._rnd = rnd
        self._queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self._ws: ClientConnection | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._fatal: str | None = None
        self._restart: str | None = None
        self._pending_ack: int | None = None

    # -- lifecycle --------------------------------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def close(self) -> None:
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        self._queue.put_nowait(None)

    async def __aenter__(self) -> _Subscription:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- consumer side ----------------------------------------------------------------------------------------------

    async def events(self) -> AsyncIterator[Event]:
        """Every event, in order. Asking for the next one acknowledges the book handed out before it."""
        self.start()
        while True:
            await self._flush_ack()
            ev = await self._queue.get()
            if ev is None:
                return
            self._on_consumed(ev)
            yield ev
            if self._fatal is not None and self._queue.empty() and self._task is not None and self._task.done():
                return

    def _on_consumed(self, ev: Event) -> None:
        pass

    # -- connection loop ---------------------------------------------------------------------------------------------

    def _emit(self, ev: Event) -> None:
        self._queue.put_nowait(ev)

    def _set_state(self, state: State) -> None:
        if state != self.state:
            self.state = state
            self._emit(state)

    async def _send(self, obj: dict[str, Any]) -> bool:
        ws = self._ws
        if ws is None:
            return False
        try:
            await ws.send(json.dumps(obj, separators=(",", ":")))
            return True
        except ConnectionClosed:
            return False

    async def _flush_ack(self) -> None:
        seq = self._pending_ack
        if seq is not None:
            self._pending_ack = None
            await self._ack(seq)

    async def _ack(self, seq: int) -> None:
        await self._send({"op": "ack", "seq": seq})

    def _on_open(self) -> None:
        pass

    def _on_message(self, m: dict[str, Any]) -> None:
        raise NotImplementedError

    async def _run(self) -> None:
        attempt = 0
        opens = 0
        while not self._closed:
            reason = "closed"
            try:
                # Protocol-level pings: workerd answers them without waking the relay's Durable Object.
                async with connect(self.url, ping_interval=self._ping_interval, ping_timeout=self._ping_interval, max_size=2**22) as ws:
                    self._ws = ws
                    if opens > 0:
                        self.reconnects += 1
                    opens += 1
                    self._pending_ack = None
                    self.link = Link("open")
                    self._emit(self.link)
                    self._on_open()
                    async for raw in ws:
                        attempt = 0  # a working link resets the backoff
                        if not isinstance(raw, str):
                            continue
                        try:
                            m = json.loads(raw)
                        except ValueError:
                            continue
                        if isinstance(m, dict):
                            self._on_message(m)
                        if self._restart is not None:
                            reason, self._restart = self._restart, None
                            break
                    else:
                        reason = "closed"
            except InvalidStatus as e:
                status = e.response.status_code
                err = _error_from_body(status, e.response.body or b"")
                if 400 <= status < 500 and status not in (408, 429):
                    # Refused before the upgrade (invalid or disallowed instId/depth): final, retrying is pointless.
                    self._fatal = err.message
                    self._emit(ServerError(err.code, err.message, True))
                reason = f"upgrade refused: HTTP {status}"
            except ConnectionClosed as e:
                code = e.rcvd.code if e.rcvd is not None else 1006
                reason = f"closed {code}" + (f": {e.rcvd.reason}" if e.rcvd is not None and e.rcvd.reason else "")
                if code == CLOSE_UNKNOWN_INSTRUMENT and self._fatal is None:
                    self._fatal = (e.rcvd.reason if e.rcvd is not None else "") or "unknown instrument"
            except (OSError, WebSocketException, asyncio.TimeoutError) as e:
                reason = f"{type(e).__name__}: {e}"
            finally:
                self._ws = None
            if self._closed:
                return
            if self._fatal is not None:
                self.link = Link("stopped", self._fatal)
                self._emit(self.link)
                self._set_state(State("down", self._fatal))
                self._queue.put_nowait(None)
                return
            delay = backoff_delay(attempt, *self._backoff, self._rnd)
            attempt += 1
            self.link = Link("reconnecting", reason, attempt, delay)
            self._emit(self.link)
            self._set_state(State("down", reason))
            await asyncio.sleep(delay)
            self._set_state(State("connecting", f"attempt {attempt + 1}"))


class BookSubscription(_Subscription):
    """A verified order book (``GET /ws/okx``). Iterate for books, or ``events()`` for everything."""

    def __init__(
        self,
        base_url: str,
        inst_id: str,
        *,
        depth: int = DEFAULT_DEPTH,
        stale_after: float = 5.0,
        reconnect_after_mismatches: int = 3,
        **kw: Any,
    ) -> None:
        if not isinstance(depth, int) or isinstance(depth, bool) or not 1 <= depth <= MAX_DEPTH:
            raise ValueError(f"depth must be an integer from 1 to {MAX_DEPTH}")
        # The checksum covers 25 levels a side: ask for at least that many so every book can be verified.
        wire_depth = max(depth, CHECKSUM_DEPTH)
        super().__init__(f"{_ws_base(base_url)}/ws/okx?instId={quote(inst_id, safe='')}&depth={wire_depth}", inst_id, **kw)
        self.depth = depth
        self.book: Book | None = None
        self.upstream: Status | None = None
        self.stale = False
        self.stale_after = stale_after
        self.verified = 0
        self.mismatches = 0
        self._mismatch_run = 0
        self._reconnect_after = reconnect_after_mismatches
        self._stale_task: asyncio.Task[None] | None = None

    def start(self) -> None:
        super().start()
        if self._stale_task is None:
            self._stale_task = asyncio.get_running_loop().create_task(self._watch_stale())

    async def close(self) -> None:
        if self._stale_task is not None:
            self._stale_task.cancel()
        await super().close()

    def age_ms(self) -> float | None:
        """now - ts of the book held, or None."""
        return None if self.book is None else self.book.age_ms()

    async def __aiter__(self) -> AsyncIterator[Book]:
        async for ev in self.events():
            if isinstance(ev, Book):
                yield ev

    def _on_consumed(self, ev: Event) -> None:
        if isinstance(ev, Book):
            self._pending_ack = ev.seq  # acked when the consumer asks for the next event

    def _on_open(self) -> None:
        self._mismatch_run = 0

    def _on_message(self, m: dict[str, Any]) -> None:
        t = m.get("type")
        if t == "book" and m.get("instId") == self.inst_id:
            self._on_book(m)
        elif t == "status" and m.get("instId") == self.inst_id:
            st = Status(m["instId"], m["state"], m["at"], m.get("reason"))
            self.upstream = st
            self._emit(st)
            if st.state == "resyncing" and st.reason == "checksum":
                self._emit(ChecksumMismatch("relay", self.inst_id))
            self._set_state(State(st.state, st.reason))
        elif t == "lagging" and m.get("instId") == self.inst_id:
            self._emit(Lagging(m["instId"], m["lagMs"], m["boundMs"], m["at"], str(m.get("scope", "client"))))
        elif t == "error":
            err = ServerError(str(m.get("code")), str(m.get("message", "")), bool(m.get("fatal")))
            if err.fatal:
                self._fatal = err.message or err.code
            self._emit(err)

    def _on_book(self, m: dict[str, Any]) -> None:
        book = Book.from_message(m)
        computed = okx_checksum(book.bids, book.asks)
        if computed != book.checksum:
            self.mismatches += 1
            self._mismatch_run += 1
            # Acked all the same (it was processed: rejected); a client that stops acking is paused by the relay.
            asyncio.get_running_loop().create_task(self._ack(book.seq))
            self._emit(ChecksumMismatch("client", self.inst_id, book.seq, book.checksum, computed))
            self._set_state(State("resyncing", "checksum mismatch (client)"))
            if self._mismatch_run >= self._reconnect_after:
                self._mismatch_run = 0
                self._restart = f"{self._reconnect_after} checksum mismatches in a row"
            return
        self._mismatch_run = 0
        self.verified += 1
        if book.depth > self.depth:
            book = Book(book.inst_id, book.seq, book.ts, book.seq_id, book.bids[: self.depth], book.asks[: self.depth], self.depth, book.mid, book.spread, book.checksum)
        self.book = book
        self.stale = False
        if self.upstream is None or self.upstream.state == "live":
            self._set_state(State("live"))
        self._emit(book)

    async def _watch_stale(self) -> None:
        period = min(1.0, max(0.05, self.stale_after / 5))
        while True:
            await asyncio.sleep(period)
            b = self.book
            if b is None or self.stale:
                continue
            age = b.age_ms()
            if age > self.stale_after * 1000:
                self.stale = True
                self._emit(Stale(self.inst_id, b.ts, age, self.stale_after * 1000))


class PredictionSubscription(_Subscription):
    """Mid-price forecasts and their live score (``GET /ws/prediction``); every message is acknowledged."""

    def __init__(self, base_url: str, inst_id: str, **kw: Any) -> None:
        super().__init__(f"{_ws_base(base_url)}/ws/prediction?instId={quote(inst_id, safe='')}", inst_id, **kw)
        self.prediction: Prediction | None = None
        self.score: Score | None = None

    async def __aiter__(self) -> AsyncIterator[Prediction | Score]:
        async for ev in self.events():
            if isinstance(ev, (Prediction, Score)):
                yield ev

    def _on_consumed(self, ev: Event) -> None:
        if isinstance(ev, (Prediction, Score)):
            self._pending_ack = 0  # any ack renews the relay's send budget on this socket

    def _on_message(self, m: dict[str, Any]) -> None:
        t = m.get("type")
        if m.get("instId", self.inst_id) != self.inst_id:
            return
        if t == "prediction":
            self.prediction = Prediction.from_message(m)
            self._emit(self.prediction)
        elif t == "score":
            self.score = Score.from_message(m)
            self._emit(self.score)
        elif t == "status":
            st = Status(m["instId"], m["state"], m["at"], m.get("reason"))
            self._emit(st)
            self._set_state(State(st.state, st.reason))
        elif t == "error":
            err = ServerError(str(m.get("code")), str(m.get("message", "")), bool(m.get("fatal")))
            if err.fatal:
                self._fatal = err.message or err.code
            self._emit(err)


class TradeSimClient:
    """Entry point: ``subscribe_book``, ``subscribe_predictions``, ``simulate_trade``."""

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8787",
        *,
        backoff_base: float = 0.5,
        backoff_max: float = 15.0,
        ping_interval: float = 20.0,
        timeout: float = 30.0,
        rnd: Callable[[], float] = random.random,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._link = {"backoff_base": backoff_base, "backoff_max": backoff_max, "ping_interval": ping_interval, "rnd": rnd}
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout)

    async def __aenter__(self) -> TradeSimClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    def subscribe_book(self, inst_id: str, *, depth: int = DEFAULT_DEPTH, stale_after: float = 5.0) -> BookSubscription:
        """A verified order book; use as ``async with`` (or call ``start()``/``close()``)."""
        return BookSubscription(self.base_url, inst_id, depth=depth, stale_after=stale_after, **self._link)

    def subscribe_predictions(self, inst_id: str) -> PredictionSubscription:
        return PredictionSubscription(self.base_url, inst_id, **self._link)

    async def simulate_trade(self, body: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
        """``POST /simulate/trade`` (body as a dict and/or keyword fields, OKX strings accepted).

        Returns the response JSON; raises TradeSimApiError on a 4xx/5xx (``path`` names the offending field)."""
        payload = {**(body or {}), **fields}
        res = await self._http.post("/simulate/trade", json=payload, headers={"accept": "application/json"})
        if res.status_code >= 400:
            raise _error_from_body(res.status_code, res.content)
        try:
            out = res.json()
        except ValueError as e:
            raise TradeSimApiError(res.status_code, "invalid_response", f"expected JSON, got {res.text[:80]!r}") from e
        return out

    async def health(self) -> dict[str, Any]:
        res = await self._http.get("/health")
        if res.status_code >= 400:
            raise _error_from_body(res.status_code, res.content)
        return res.json()


