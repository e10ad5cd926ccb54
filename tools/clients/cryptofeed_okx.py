"""cryptofeed's OKX feed pointed at the local exchange (`npm run exchange -- --tls`).

cryptofeed only accepts wss:// addresses, so the exchange must run with --tls; trust its self-signed certificate
with SSL_CERT_FILE (the exchange writes it with --tls-cert-out FILE). Prints one JSON line per book callback:
{"seqId", "checksum" (OKX CRC32 of cryptofeed's top 25, original strings), "bids", "asks" (top DEPTH, strings)}.

    python tools/clients/cryptofeed_okx.py https://127.0.0.1:8443 BTC-USDT-PERP [COUNT] [DEPTH]

(cryptofeed's symbol for OKX's BTC-USDT-SWAP is BTC-USDT-PERP.)
"""
import json
import os
import sys
import zlib
from typing import List, Union

from cryptofeed import FeedHandler
from cryptofeed.connection import HTTPAsyncConn, RestEndpoint, Routes, WebsocketEndpoint
from cryptofeed.defines import L2_BOOK
from cryptofeed.exchanges import OKX


def local_okx(base: str) -> type:
    """OKX with its REST and WebSocket addresses replaced by the local exchange's (SPOT and SWAP instruments)."""
    ws = base.replace("https://", "wss://", 1) + "/ws/v5/public"

    class LocalOKX(OKX):
        websocket_endpoints = [WebsocketEndpoint(ws, channel_filter=(OKX.websocket_channels[L2_BOOK],), options={"compression": None})]
        # two routes: with a single response cryptofeed parses the wrong level of the JSON
        rest_endpoints = [RestEndpoint(base, routes=Routes(["/api/v5/public/instruments?instType=SPOT", "/api/v5/public/instruments?instType=SWAP"]))]

        @classmethod
        async def _symbol_endpoint_prepare(cls, ep: RestEndpoint, conn: HTTPAsyncConn) -> Union[List[str], str]:
            return ep.route("instruments")

    return LocalOKX


def okx_checksum(bids, asks) -> int:
    """OKX's CRC32 (signed) over bid1px:bid1sz:ask1px:ask1sz:... of the top 25 levels."""
    parts = []
    for i in range(25):
        if i < len(bids):
            parts += [str(bids[i][0]), str(bids[i][1])]
        if i < len(asks):
            parts += [str(asks[i][0]), str(asks[i][1])]
    crc = zlib.crc32(":".join(parts).encode())
    return crc - (1 << 32) if crc >= 1 << 31 else crc


def main() -> None:
    base, symbol = sys.argv[1], sys.argv[2]
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 50
    depth = int(sys.argv[4]) if len(sys.argv) > 4 else 400
    feed_cls = local_okx(base)
    fh = FeedHandler()
    seen = 0

    async def on_book(book, receipt_timestamp):
        nonlocal seen
        # Decimal keeps the strings as sent ("0.20" stays "0.20"), so the checksum is OKX's.
        bids = [(str(p), str(s)) for p, s in book.book.bids.to_list()[:depth]]
        asks = [(str(p), str(s)) for p, s in book.book.asks.to_list()[:depth]]
        print(json.dumps({"seqId": book.sequence_number, "checksum": okx_checksum(bids, asks), "bids": bids, "asks": asks}), flush=True)
        seen += 1
        if seen >= count:
            os._exit(0)  # enough: no graceful shutdown needed for a probe

    fh.add_feed(feed_cls(symbols=[symbol], channels=[L2_BOOK], callbacks={L2_BOOK: on_book}))
    fh.run()


if __name__ == "__main__":
    main()
