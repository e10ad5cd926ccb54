/**
 * The relay's outbound connection to an OKX-protocol WebSocket, behind a small interface so tests can substitute
 * it. The production implementation uses workerd's outbound WebSocket: `fetch()` with `Upgrade: websocket` to
 * the http(s) form of the URL, then `accept()` on the returned socket (workerd does not take ws:// in fetch).
 */

export interface UpstreamHandlers {
  onMessage(text: string): void;
  onClose(code: number, reason: string): void;
}

export interface Upstream {
  send(text: string): void;
  close(code?: number, reason?: string): void;
}

/** Opens a connection; rejects when the server refuses the upgrade or cannot be reached. */
export type UpstreamConnector = (url: string, handlers: UpstreamHandlers) => Promise<Upstream>;

/**
 * OKX's v5 public socket sends text only. A binary frame (e.g. a deflate-compressed push, as OKX's v3 API sent) is
 * handed on as its bytes read as UTF-8 where that is possible and as "" otherwise: either way the parser rejects it
 * as malformed and the relay resyncs, instead of the listener throwing outside every guard.
 */
function binaryAsText(data: unknown): string {
  try {
    if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) return new TextDecoder().decode(data);
  } catch {
    // not decodable
  }
  return "";
}

/** workerd outbound WebSocket connector. */
export const connectWebSocket: UpstreamConnector = (url, handlers) =>
  connectVia(fetch, url.replace(/^ws(s?):\/\//, "http$1://"), handlers);

/**
 * Open a WebSocket through `fetcher` (global fetch for OKX; a Durable Object stub's fetch for a shard link:
 * DO-to-DO WebSockets are upgraded the same way) and wrap it in the Upstream interface.
 */
export async function connectVia(
  fetcher: (url: string, init: RequestInit) => Promise<Response>,
  httpUrl: string,
  handlers: UpstreamHandlers,
): Promise<Upstream> {
  const res = await fetcher(httpUrl, { headers: { Upgrade: "websocket" } });
  const ws = res.webSocket;
  if (res.status !== 101 || !ws) {
    throw new Error(`upgrade refused: HTTP ${res.status}`);
  }
  ws.accept();
  let closed = false;
  const closeOnce = (code: number, reason: string) => {
    if (closed) return;
    closed = true;
    handlers.onClose(code, reason);
  };
  ws.addEventListener("message", (ev) => {
    handlers.onMessage(typeof ev.data === "string" ? ev.data : binaryAsText(ev.data));
  });
  ws.addEventListener("close", (ev) => closeOnce(ev.code, ev.reason));
  ws.addEventListener("error", () => closeOnce(1006, "error"));
  return {
    send: (text) => ws.send(text),
    close: (code = 1000, reason = "") => {
      try {
        ws.close(code, reason);
      } catch {
        // already closed
      }
      closeOnce(code, reason || "closed by relay");
    },
  };
}
