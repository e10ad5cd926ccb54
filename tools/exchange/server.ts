/**
 * Local OKX-protocol exchange: serves the OKX v5 public WebSocket protocol at ws://HOST:PORT/ws/v5/public (or
 * wss:// with `tls`) from real captures, so the relay, the tests, the benchmarks, real clients (ccxt, cryptofeed)
 * and a newcomer without internet all exercise the same code path as production.
 *
 * - Replays `books` and `trades` pushes of every instrument in the captures at the original pace x speed,
 *   only to connections subscribed to that channel + instId (`books`, alias `books-l2-tbt`; `books5` and `bbo-tbt`
 *   are derived from the replayed book: pushes.ts).
 * - Keeps its own L2 book per instrument (src/okx/book.ts): a new `books` subscriber first gets a snapshot of the
 *   current replayed book capped at 400 levels a side as OKX does (checksum computed over it), then the captured
 *   updates plus the levels that climb into the 400-level view (pushes.ts `reentries`), so the subscriber's top 400
 *   always equals the exchange's and the captured checksums stay valid.
 * - Owns the seqId chain: seqId/prevSeqId are synthesized per instrument (advancing by the captured delta when the
 *   capture has seqIds, by 1 otherwise), so looping and multi-file replays stay continuous.
 * - Acks subscribe/unsubscribe, answers `ping` with `pong`, closes connections with no traffic for 30 s (like
 *   OKX), limits new connections to 3/s (like OKX), and answers malformed requests, unknown channels and unknown
 *   instIds with OKX-style `event:"error"` frames.
 * - Logs every connection (opened/closed, subscribes per instId) for tests that must prove what reached "OKX".
 * - Fault injection (faults.ts) via CLI flags or the HTTP control API under /__control/ (control.ts).
 */
import { createServer, type Server } from "node:http";
import { createServer as createTlsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { WebSocketServer, type WebSocket } from "ws";
import { applyBook, createBook, toOkxLevels, topLevels, type Book } from "../../src/okx/book.js";
import { okxChecksum } from "../../src/okx/checksum.js";
import type { OkxBookData, OkxWireEvent, OkxWireTrades } from "../../src/okx/protocol.js";
import { ConnectionLogBook, type ConnectionLog } from "./connlog.js";
import { handleControl } from "./control.js";
import { createSender, okxError, unknownChannelMsg, type Conn, type Outgoing } from "./sender.js";
import type { FaultSpec } from "./faults.js";
import {
  BOOKS_DEPTH,
  TOP_CHANNELS,
  TOP_DEPTH,
  isBookChannel,
  isTopChannel,
  reentries,
  serializeBooks,
  serializeTop,
  viewBoundary,
  type BookChannel,
  type BookFrame,
  type TopChannel,
} from "./pushes.js";
import { startPlayer, type Player } from "./player.js";
import { loadTimeline, type ReplayEvent, type Timeline } from "./replay.js";

export interface ExchangeOptions {
  /** Capture files to replay (cryptofeed raw format, optionally gzipped). */
  readonly replay: readonly string[];
  readonly port?: number;
  readonly host?: string;
  /** Pace multiplier: 1 = original pace, 10 = ten times faster, Infinity = as fast as possible. */
  readonly speed?: number;
  /** Restart from the beginning when the capture ends (subscribers get a fresh snapshot). */
  readonly loop?: boolean;
  /** Close connections with no frame in either direction for this long (OKX: 30 s). */
  readonly idleTimeoutMs?: number;
  /** New connections allowed per second (OKX: 3 per IP). 0 disables the limit. */
  readonly connectionsPerSecond?: number;
  /**
   * Keep the captured `ts` values (default false: timestamps are shifted so the replay looks live, i.e. the first
   * event of each loop carries the current time; intervals are unchanged, so features and checksums are too).
   */
  readonly originalTimestamps?: boolean;
  /** Faults armed on EVERY connection (CLI flags such as --drop-after). */
  readonly faults?: readonly FaultSpec[];
  /** Called after a books push went out to its subscribers (benchmarks: fan-out latency from this instant). */
  readonly onBookPush?: (instId: string, seqId: number, subscribers: number) => void;
  /**
   * REST instruments handler (GET /api/v5/public/instruments). Default: the real OKX instruments responses
   * captured on 2022-05-13 (data/cryptofeed), loaded on the first request; `null` disables REST.
   */
  readonly rest?: ((url: URL) => { status: number; body: string } | null) | null;
  /** Keep the 400-level view of the last N books per instrument (GET /__control/book?seqId=): tests. Default 0. */
  readonly bookHistory?: number;
  /** Serve HTTPS/WSS with this key and certificate (PEM) instead of plain HTTP/WS (tls.ts makes a self-signed one). */
  readonly tls?: { readonly key: string; readonly cert: string };
  readonly log?: (line: string) => void;
}

interface ExchangeStats {
  readonly connections: number;
  readonly connectionsTotal: number;
  readonly rejectedConnections: number;
  /** Accept times (Unix ms) of the last 200 connections. */
  readonly acceptedAt: readonly number[];
  readonly pushes: number;
  readonly loops: number;
  readonly position: number;
  readonly events: number;
  readonly instruments: Record<string, { seqId: number; synced: boolean; ts: number; subscribers: number }>;
}

/** A book as the exchange held it after one push (top 400 a side). */
interface BookView {
  readonly instId: string;
  readonly seqId: number;
  readonly ts: number;
  readonly bids: [string, string][];
  readonly asks: [string, string][];
  readonly checksum: number;
}

export interface Exchange {
  readonly port: number;
  /** ws://HOST:PORT/ws/v5/public (wss:// with tls) */
  readonly url: string;
  /** http://HOST:PORT (https:// with tls) */
  readonly httpUrl: string;
  readonly timeline: Timeline;
  /**
   * Arm a fault on all current connections (`scope: "all"`, optionally only those subscribed to `instId`), or on
   * the next connection to open. Returns how many connections were armed.
   */
  inject(fault: FaultSpec, scope?: "all" | "next", instId?: string): number;
  /** The last pushes of an instrument: seqId and the checksum recorded in the capture. */
  recent(instId: string): readonly { seqId: number; checksum: number | undefined; ts: string }[];
  /** Refuse WebSocket upgrades (HTTP 503) for `ms` milliseconds. */
  refuse(ms: number): void;
  /** Reset the seqId chain of an instrument (OKX maintenance: the next update has seqId < prevSeqId). */
  resetSequence(instId: string): void;
  stats(): ExchangeStats;
  /** Connections opened and closed, subscribes per instId; `since`: only connections with a larger id. */
  connections(since?: number): ConnectionLog;
  /** The exchange's current book for an instrument (what every in-sync subscriber must hold). */
  book(instId: string): Book | undefined;
  /** The book's top `depth` levels now, or as it was right after push `seqId` (needs `bookHistory`). */
  view(instId: string, depth: number, seqId?: number): BookView | undefined;
  /** When `refuse` ends (Unix ms). */
  refusingUntil(): number;
  close(): Promise<void>;
}

interface Instrument {
  book: Book;
  seqId: number;
  lastCapturedSeqId: number | undefined;
  /** Next update restarts the chain below the current seqId (OKX maintenance reset). */
  resetPending: boolean;
  /** Last pushes (seqId -> checksum as recorded in the capture), so tests can compare the relay's checksum. */
  recent: { seqId: number; checksum: number | undefined; ts: string }[];
  /** Last `bookHistory` 400-level views. */
  history: BookView[];
  /** Top levels last pushed per top channel ("px:sz:orders,..."): pushes go out on change only. */
  lastTop: Map<TopChannel, string>;
}

const WS_PATH = "/ws/v5/public";

/** The event with its exchange timestamps moved by `offset` ms (live-looking replay). */
function shiftTs(ev: ReplayEvent, offset: number): ReplayEvent {
  if (ev.kind === "trades") return { ...ev, data: ev.data.map((t) => ({ ...t, ts: String(+t.ts + offset) })) };
  return { ...ev, data: { ...ev.data, ts: String(+ev.data.ts + offset) } };
}

/** Start the local exchange; resolves once it listens. */
export async function startExchange(opts: ExchangeOptions): Promise<Exchange> {
  const log = opts.log ?? (() => {});
  const timeline = loadTimeline(opts.replay);
  if (timeline.events.length === 0) throw new Error(`no books/trades messages in ${opts.replay.join(", ")}`);
  const speed = opts.speed ?? 1;
  if (!(speed > 0)) throw new Error("speed must be > 0");
  const idleTimeoutMs = opts.idleTimeoutMs ?? 30_000;
  const connRate = opts.connectionsPerSecond ?? 3;
  const everyConnFaults = opts.faults ?? [];
  const historySize = opts.bookHistory ?? 0;

  const instruments = new Map<string, Instrument>();
  const conns = new Set<Conn>();
  let nextConnFaults: FaultSpec[] = [];
  let connectionsTotal = 0;
  let rejectedConnections = 0;
  const acceptedAt: number[] = [];
  const connLog = new ConnectionLogBook();
  let pushes = 0;
  let refuseUntil = 0;
  let player: Player | undefined;
  const recentUpgrades: number[] = [];

  const inst = (instId: string): Instrument => {
    let i = instruments.get(instId);
    if (!i) {
      i = {
        book: createBook(instId),
        seqId: 0,
        lastCapturedSeqId: undefined,
        resetPending: false,
        recent: [],
        history: [],
        lastTop: new Map(),
      };
      instruments.set(instId, i);
    }
    return i;
  };

  const sender = createSender({ log, bookOf: (id) => instruments.get(id)?.book, snapshotFor, onPush: () => pushes++ });
  const { push, rawSend, touch, armClientIdle } = sender;

  // ---- replay ---------------------------------------------------------------------------------------------------
  function snapshotFor(instId: string, channel: BookChannel): string | null {
    const i = instruments.get(instId);
    if (!i?.book.synced) return null;
    const b = i.book;
    const data = {
      asks: toOkxLevels(b.asks, BOOKS_DEPTH),
      bids: toOkxLevels(b.bids, BOOKS_DEPTH),
      ts: String(b.ts),
      checksum: okxChecksum(b.bids, b.asks),
      seqId: i.seqId,
      prevSeqId: -1,
    };
    return serializeBooks({ channel, instId, action: "snapshot", data });
  }

  function topFor(instId: string, channel: TopChannel): string | null {
    const i = instruments.get(instId);
    if (!i?.book.synced) return null;
    return serializeTop(channel, instId, i.book.bids, i.book.asks, i.book.ts, i.seqId);
  }

  /** Push books5 / bbo-tbt to their subscribers when the top levels changed. */
  function emitTops(instId: string, i: Instrument): void {
    for (const channel of TOP_CHANNELS) {
      const n = TOP_DEPTH[channel];
      const top = [...i.book.bids.slice(0, n), ...i.book.asks.slice(0, n)]
        .map((l) => `${l.px}:${l.sz}:${l.orders}`)
        .join(",");
      if (i.lastTop.get(channel) === top) continue;
      i.lastTop.set(channel, top);
      let text: string | undefined;
      for (const c of conns) {
        if (!c.tops.get(instId)?.has(channel)) continue;
        text ??= serializeTop(channel, instId, i.book.bids, i.book.asks, i.book.ts, i.seqId);
        push(c, { kind: "other", text });
      }
    }
  }

  function emit(original: ReplayEvent, tsOffset: number): void {
    const ev = tsOffset === 0 ? original : shiftTs(original, tsOffset);
    if (ev.kind === "trades") {
      const text = JSON.stringify({
        arg: { channel: "trades", instId: ev.instId },
        data: ev.data,
      } satisfies OkxWireTrades);
      for (const c of conns) if (c.trades.has(ev.instId)) push(c, { kind: "other", text });
      return;
    }
    const i = inst(ev.instId);
    const bidBound = viewBoundary(i.book.bids);
    const askBound = viewBoundary(i.book.asks);
    const r = applyBook(i.book, ev.action, ev.data);
    if (!r.ok) {
      log(`capture fault ${ev.instId}: ${r.fault} ${r.detail}`);
      return;
    }
    // Synthesize the chain: advance by the captured delta when the capture has seqIds, else by 1.
    const cap = ev.data.seqId;
    const delta =
      cap !== undefined && i.lastCapturedSeqId !== undefined && ev.action === "update"
        ? Math.max(1, cap - i.lastCapturedSeqId)
        : 1;
    i.lastCapturedSeqId = cap;
    const prev = ev.action === "snapshot" ? -1 : i.seqId;
    if (i.resetPending && ev.action === "update") {
      i.resetPending = false;
      i.seqId = 0; // the next seqId (delta) is below prevSeqId
    }
    i.seqId += delta;
    i.recent.push({ seqId: i.seqId, checksum: ev.data.checksum, ts: ev.data.ts });
    if (i.recent.length > 5000) i.recent.splice(0, 1000);
    if (historySize > 0) {
      i.history.push(viewOf(ev.instId, i, BOOKS_DEPTH));
      if (i.history.length > historySize) i.history.splice(0, i.history.length - historySize);
    }
    // What subscribers get: a snapshot capped at 400 levels, or the update plus levels entering the 400 view.
    let { bids, asks } = ev.data;
    if (ev.action === "snapshot") {
      bids = toOkxLevels(i.book.bids, BOOKS_DEPTH);
      asks = toOkxLevels(i.book.asks, BOOKS_DEPTH);
    } else {
      const rb = reentries(i.book.bids, bidBound, true, bids);
      const ra = reentries(i.book.asks, askBound, false, asks);
      if (rb.length > 0) bids = [...bids, ...rb];
      if (ra.length > 0) asks = [...asks, ...ra];
    }
    const data: OkxBookData = {
      asks,
      bids,
      ts: ev.data.ts,
      checksum: ev.data.checksum,
      seqId: i.seqId,
      prevSeqId: prev,
    };
    const cache = new Map<BookChannel, Outgoing>();
    for (const c of conns) {
      const channel = c.books.get(ev.instId);
      if (channel === undefined) continue;
      let out = cache.get(channel);
      if (out === undefined) {
        const frame: BookFrame = { channel, instId: ev.instId, action: ev.action, data };
        out = { kind: "books", frame, text: serializeBooks(frame) };
        cache.set(channel, out);
      }
      push(c, out);
    }
    emitTops(ev.instId, i);
    if (opts.onBookPush && cache.size > 0) opts.onBookPush(ev.instId, i.seqId, cache.size);
  }

  function viewOf(instId: string, i: Instrument, depth: number): BookView {
    const b = i.book;
    return {
      instId,
      seqId: i.seqId,
      ts: b.ts,
      bids: topLevels(b.bids, depth),
      asks: topLevels(b.asks, depth),
      checksum: okxChecksum(b.bids, b.asks),
    };
  }

  // ---- connections ----------------------------------------------------------------------------------------------
  function subscribe(c: Conn, channel: string, instId: string): void {
    if (isBookChannel(channel)) {
      c.books.set(instId, channel);
      const snap = snapshotFor(instId, channel);
      if (snap) push(c, { kind: "other", text: snap });
    } else if (isTopChannel(channel)) {
      let set = c.tops.get(instId);
      if (!set) {
        set = new Set();
        c.tops.set(instId, set);
      }
      set.add(channel);
      const top = topFor(instId, channel);
      if (top) push(c, { kind: "other", text: top });
    } else {
      c.trades.add(instId);
    }
  }

  function unsubscribe(c: Conn, channel: string, instId: string): void {
    if (isBookChannel(channel)) c.books.delete(instId);
    else if (isTopChannel(channel)) {
      c.tops.get(instId)?.delete(channel);
      if (c.tops.get(instId)?.size === 0) c.tops.delete(instId);
    } else c.trades.delete(instId);
  }

  function onMessage(c: Conn, text: string): void {
    touch(c);
    c.lastClientFrame = Date.now();
    if (c.stalled) return;
    if (text === "ping") {
      rawSend(c, "pong");
      return;
    }
    let req: unknown;
    try {
      req = JSON.parse(text);
    } catch {
      rawSend(c, okxError("60012", `Invalid request: ${text.slice(0, 100)}`, c.id));
      return;
    }
    const r = req as { op?: unknown; args?: unknown };
    if ((r.op !== "subscribe" && r.op !== "unsubscribe") || !Array.isArray(r.args) || r.args.length === 0) {
      rawSend(c, okxError("60012", `Invalid request: ${text.slice(0, 100)}`, c.id));
      return;
    }
    // Counted once per request and instId (a relay subscribes books and trades of one instrument in one request).
    const ok = new Set<string>();
    const refused = new Set<string>();
    for (const a of r.args as unknown[]) {
      const arg = a as { channel?: unknown; instId?: unknown };
      if (typeof arg?.channel !== "string" || typeof arg.instId !== "string") {
        rawSend(c, okxError("60012", `Invalid request: ${text.slice(0, 100)}`, c.id));
        continue;
      }
      const { channel, instId } = arg;
      const isBooks = isBookChannel(channel) || isTopChannel(channel);
      const known = isBooks
        ? timeline.bookInstruments.has(instId)
        : channel === "trades" && timeline.instruments.has(instId);
      if (!known || c.subscribeError) {
        c.subscribeError = false;
        if (r.op === "subscribe") refused.add(instId);
        rawSend(c, okxError("60018", unknownChannelMsg(channel, instId), c.id));
        continue;
      }
      rawSend(c, JSON.stringify({ event: r.op, arg: { channel, instId }, connId: c.id } satisfies OkxWireEvent));
      if (r.op === "unsubscribe") {
        connLog.unsubscribe(c.record, instId);
        unsubscribe(c, channel, instId);
        continue;
      }
      ok.add(instId);
      subscribe(c, channel, instId);
    }
    if (r.op === "subscribe") connLog.request(c.record, ok, refused);
  }

  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });

  function onConnection(ws: WebSocket): void {
    connectionsTotal++;
    acceptedAt.push(Date.now());
    if (acceptedAt.length > 200) acceptedAt.shift();
    const record = connLog.open();
    const c: Conn = {
      id: `c${record.id}`,
      record,
      ws,
      books: new Map(),
      tops: new Map(),
      trades: new Set(),
      pushes: 0,
      faults: [...everyConnFaults, ...nextConnFaults].map((spec) => ({ spec, firesAt: spec.after ?? 0 })),
      stalled: false,
      subscribeError: false,
      lastActivity: Date.now(),
      tsJump: 0,
      held: null,
      clientIdle: null,
      lastClientFrame: Date.now(),
    };
    for (const f of c.faults) {
      if (f.spec.type === "subscribe-error") c.subscribeError = true;
      if (f.spec.type === "client-idle") armClientIdle(c, f.spec.idleMs ?? 30_000);
    }
    c.faults = c.faults.filter((f) => f.spec.type !== "subscribe-error" && f.spec.type !== "client-idle");
    nextConnFaults = [];
    conns.add(c);
    log(`connect ${c.id} (${conns.size} open)`);
    ws.on("message", (data, isBinary) => onMessage(c, isBinary ? "" : data.toString()));
    ws.on("close", (code) => {
      connLog.close(record, code);
      if (c.clientIdle) clearInterval(c.clientIdle.timer);
      conns.delete(c);
      log(`close ${c.id} (${conns.size} open)`);
    });
    ws.on("error", () => conns.delete(c));
  }

  const server: Server = opts.tls ? createTlsServer({ key: opts.tls.key, cert: opts.tls.cert }) : createServer();
  server.on("upgrade", (req, socket, head) => {
    const url = new URL(req.url ?? "/", "http://x");
    const reject = (status: number, text: string) => {
      rejectedConnections++;
      socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    if (url.pathname !== WS_PATH) return reject(404, "Not Found");
    const now = Date.now();
    if (now < refuseUntil) return reject(503, "Service Unavailable");
    while (recentUpgrades.length && recentUpgrades[0]! <= now - 1000) recentUpgrades.shift();
    if (connRate > 0 && recentUpgrades.length >= connRate) return reject(429, "Too Many Requests");
    recentUpgrades.push(now);
    wss.handleUpgrade(req, socket, head, onConnection);
  });

  const idleTimer = setInterval(
    () => {
      const limit = Date.now() - idleTimeoutMs;
      for (const c of conns) {
        if (c.lastActivity < limit) {
          log(`idle close ${c.id}`);
          c.ws.close(4004, "no data for 30s");
          conns.delete(c);
        }
      }
    },
    Math.min(1000, idleTimeoutMs),
  ).unref();

  const api: Exchange = {
    port: 0,
    url: "",
    httpUrl: "",
    timeline,
    inject(fault, scope = "all", instId) {
      if (fault.type === "seq-reset") {
        for (const id of timeline.bookInstruments) api.resetSequence(id);
        return instruments.size;
      }
      if (scope === "next") {
        nextConnFaults.push(fault);
        return 1;
      }
      let n = 0;
      for (const c of conns) {
        if (instId !== undefined && !c.books.has(instId) && !c.tops.has(instId)) continue;
        if (fault.type === "subscribe-error") c.subscribeError = true;
        else if (fault.type === "client-idle") armClientIdle(c, fault.idleMs ?? 30_000);
        else c.faults.push({ spec: fault, firesAt: c.pushes + (fault.after ?? 0) });
        n++;
      }
      return n;
    },
    refuse(ms) {
      refuseUntil = Date.now() + Math.max(0, ms);
    },
    refusingUntil: () => refuseUntil,
    resetSequence(instId) {
      const i = instruments.get(instId);
      // Next update: prevSeqId = current seqId, seqId = small value (< prevSeqId), as in OKX maintenance.
      if (i) i.resetPending = true;
    },
    stats() {
      const insts: ExchangeStats["instruments"] = {};
      for (const [id, i] of instruments) {
        let subscribers = 0;
        for (const c of conns) if (c.books.has(id) || c.tops.has(id)) subscribers++;
        insts[id] = { seqId: i.seqId, synced: i.book.synced, ts: i.book.ts, subscribers };
      }
      return {
        connections: conns.size,
        connectionsTotal,
        rejectedConnections,
        acceptedAt: [...acceptedAt],
        pushes,
        loops: player?.loops() ?? 0,
        position: player?.position() ?? 0,
        events: timeline.events.length,
        instruments: insts,
      };
    },
    connections(since = 0) {
      return connLog.snapshot(since, conns.size);
    },
    book: (instId) => instruments.get(instId)?.book,
    view(instId, depth, seqId) {
      const i = instruments.get(instId);
      if (!i) return undefined;
      if (seqId === undefined) return viewOf(instId, i, depth);
      // Latest match: after a seqId reset an old seqId can come round again.
      for (let k = i.history.length - 1; k >= 0; k--) {
        const h = i.history[k]!;
        if (h.seqId === seqId) return { ...h, bids: h.bids.slice(0, depth), asks: h.asks.slice(0, depth) };
      }
      return undefined;
    },
    recent: (instId) => instruments.get(instId)?.recent ?? [],
    async close() {
      player?.stop();
      clearInterval(idleTimer);
      for (const c of conns) {
        if (c.clientIdle) clearInterval(c.clientIdle.timer);
        c.ws.terminate();
      }
      conns.clear();
      wss.close();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };

  server.on("request", (req, res) => void handleControl(api, opts.rest, req, res));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 8080, opts.host ?? "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = opts.host ?? "127.0.0.1";
  const s = opts.tls ? "s" : "";
  Object.assign(api, { port, url: `ws${s}://${host}:${port}${WS_PATH}`, httpUrl: `http${s}://${host}:${port}` });
  const onRestart = (ids: ReadonlySet<string>) => {
    for (const id of ids) {
      const i = instruments.get(id);
      if (!i) continue;
      i.book = createBook(id);
      i.lastCapturedSeqId = undefined;
    }
  };
  player = startPlayer(timeline, {
    speed,
    loop: opts.loop ?? false,
    originalTimestamps: opts.originalTimestamps ?? false,
    emit,
    onRestart,
    log,
  });
  return api;
}
