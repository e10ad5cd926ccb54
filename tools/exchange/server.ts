/**
 * Local OKX-protocol exchange: serves the OKX v5 public WebSocket protocol at ws://HOST:PORT/ws/v5/public from
 * real captures, so the relay, the tests, the benchmarks and a newcomer without internet all exercise the same
 * code path as production.
 *
 * - Replays `books` and `trades` pushes of every instrument in the captures at the original pace x speed,
 *   only to connections subscribed to that channel + instId (channel `books`; `books-l2-tbt` is an alias).
 * - Keeps its own L2 book per instrument (src/okx/book.ts): a new subscriber first gets a snapshot of the current
 *   replayed book (checksum computed over it), then the captured updates, whose checksums stay valid because the
 *   subscriber's book equals the exchange's.
 * - Owns the seqId chain: seqId/prevSeqId are synthesized per instrument (advancing by the captured delta when the
 *   capture has seqIds, by 1 otherwise), so looping and multi-file replays stay continuous.
 * - Acks subscribe/unsubscribe, answers `ping` with `pong`, closes connections with no traffic for 30 s (like
 *   OKX), limits new connections to 3/s (like OKX), and answers malformed requests, unknown channels and unknown
 *   instIds with OKX-style `event:"error"` frames.
 * - Fault injection (faults.ts) via CLI flags or the HTTP control API under /__control/.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocketServer, type WebSocket } from "ws";
import { applyBook, createBook, toOkxLevels, topLevels, type Book } from "../../src/okx/book.js";
import { okxChecksum } from "../../src/okx/checksum.js";
import { NOTICE_SERVICE_UPGRADE, type OkxBookData } from "../../src/okx/protocol.js";
import { DATA } from "../lib/captures.js";
import { parseFault, type FaultSpec } from "./faults.js";
import { handleInstrumentsRequest, loadInstruments } from "./instruments.js";
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
  readonly log?: (line: string) => void;
}

export interface ExchangeStats {
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

export interface Exchange {
  readonly port: number;
  /** ws://HOST:PORT/ws/v5/public */
  readonly url: string;
  /** http://HOST:PORT */
  readonly httpUrl: string;
  readonly timeline: Timeline;
  /**
   * Arm a fault on all current connections (`scope: "all"`, optionally only those subscribed to `instId`'s books)
   * or on the next connection to open. Returns how many connections were armed.
   */
  inject(fault: FaultSpec, scope?: "all" | "next", instId?: string): number;
  /** The last pushes of an instrument: seqId and the checksum recorded in the capture. */
  recent(instId: string): readonly { seqId: number; checksum: number | undefined; ts: string }[];
  /** Refuse WebSocket upgrades (HTTP 503) for `ms` milliseconds. */
  refuse(ms: number): void;
  /** Reset the seqId chain of an instrument (OKX maintenance: the next update has seqId < prevSeqId). */
  resetSequence(instId: string): void;
  stats(): ExchangeStats;
  /** The exchange's current book for an instrument (what every in-sync subscriber must hold). */
  book(instId: string): Book | undefined;
  close(): Promise<void>;
}

interface ArmedFault {
  readonly spec: FaultSpec;
  readonly firesAt: number;
}

interface Conn {
  readonly id: string;
  readonly ws: WebSocket;
  /** instId -> channel name the client used (books | books-l2-tbt). */
  readonly books: Map<string, string>;
  readonly trades: Set<string>;
  pushes: number;
  faults: ArmedFault[];
  stalled: boolean;
  subscribeError: boolean;
  lastActivity: number;
}

interface Instrument {
  book: Book;
  seqId: number;
  lastCapturedSeqId: number | undefined;
  /** Next update restarts the chain below the current seqId (OKX maintenance reset). */
  resetPending: boolean;
  /** Last pushes (seqId -> checksum as recorded in the capture), so tests can compare the relay's checksum. */
  recent: { seqId: number; checksum: number | undefined; ts: string }[];
}

const WS_PATH = "/ws/v5/public";

/** The event with its exchange timestamps moved by `offset` ms (live-looking replay). */
function shiftTs(ev: ReplayEvent, offset: number): ReplayEvent {
  if (ev.kind === "trades") return { ...ev, data: ev.data.map((t) => ({ ...t, ts: String(+t.ts + offset) })) };
  return { ...ev, data: { ...ev.data, ts: String(+ev.data.ts + offset) } };
}

/**
 * Instrument specs that changed since the REST capture (2022-05-13) was taken, applied to its responses so they
 * match the bundled 2024 stream: BTC-USDT-SWAP's lot and minimum size went from 1 contract to 0.01 (the stream has
 * fractional contract sizes). Everything else is served as captured.
 */
const SPEC_UPDATES: Record<string, Record<string, string>> = { "BTC-USDT-SWAP": { lotSz: "0.01", minSz: "0.01" } };

function withSpecUpdates(r: { status: number; body: string } | null): { status: number; body: string } | null {
  if (!r || r.status !== 200 || !Object.keys(SPEC_UPDATES).some((id) => r.body.includes(`"${id}"`))) return r;
  const body = JSON.parse(r.body) as { data?: Record<string, unknown>[] };
  for (const d of body.data ?? []) Object.assign(d, SPEC_UPDATES[String(d.instId)] ?? {});
  return { status: r.status, body: JSON.stringify(body) };
}

let instrumentsLoaded = false;
/** The bundled REST instruments capture, loaded once on first use. */
function bundledInstruments(url: URL): { status: number; body: string } | null {
  if (!instrumentsLoaded) {
    loadInstruments(DATA.instruments20220513);
    instrumentsLoaded = true;
  }
  return withSpecUpdates(handleInstrumentsRequest(url));
}

function okxError(code: string, msg: string, connId: string): string {
  return JSON.stringify({ event: "error", code, msg, connId });
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

  const instruments = new Map<string, Instrument>();
  const conns = new Set<Conn>();
  let nextConnFaults: FaultSpec[] = [];
  let connectionsTotal = 0;
  let rejectedConnections = 0;
  const acceptedAt: number[] = [];
  let pushes = 0;
  let loops = 0;
  let refuseUntil = 0;
  const recentUpgrades: number[] = [];

  const inst = (instId: string): Instrument => {
    let i = instruments.get(instId);
    if (!i) instruments.set(instId, (i = { book: createBook(instId), seqId: 0, lastCapturedSeqId: undefined, resetPending: false, recent: [] }));
    return i;
  };

  // ---- sending, with per-connection faults ----------------------------------------------------------------------
  const touch = (c: Conn) => (c.lastActivity = Date.now());

  function rawSend(c: Conn, text: string): void {
    if (c.ws.readyState !== c.ws.OPEN) return;
    c.ws.send(text);
    touch(c);
  }

  /** Send a push to a connection, applying the first due fault. `variant` re-serializes the push for faults. */
  function push(c: Conn, text: string, variant?: (kind: "checksum") => string): void {
    if (c.stalled || c.ws.readyState !== c.ws.OPEN) return;
    const idx = c.faults.findIndex((f) => f.firesAt <= c.pushes);
    c.pushes++;
    pushes++;
    if (idx >= 0) {
      const f = c.faults[idx]!;
      const type = f.spec.type;
      // Faults that need an update to act on wait for one (e.g. `checksum` on a trades push).
      if ((type === "checksum" || type === "gap") && variant === undefined) return rawSend(c, text);
      c.faults.splice(idx, 1);
      log(`fault ${type} on ${c.id} after ${c.pushes - 1} pushes`);
      switch (type) {
        case "drop":
          c.ws.terminate();
          return;
        case "gap":
          return; // the update is silently lost
        case "checksum":
          return rawSend(c, variant!("checksum"));
        case "malformed":
          return rawSend(c, text.slice(0, Math.max(1, text.length >> 1)));
        case "notice":
          rawSend(c, JSON.stringify({ event: "notice", code: NOTICE_SERVICE_UPGRADE, msg: "The connection will soon be closed for a service upgrade. Please reconnect.", connId: c.id }));
          setTimeout(() => c.ws.close(1001, "service upgrade"), f.spec.closeAfterMs ?? 1000).unref();
          return rawSend(c, text);
        case "stall":
          c.stalled = true;
          return;
        case "subscribe-error":
          c.subscribeError = true;
          return rawSend(c, text);
        case "seq-reset":
          // instrument-wide: handled by resetSequence; per connection it has no meaning
          return rawSend(c, text);
      }
    }
    rawSend(c, text);
  }

  // ---- replay ---------------------------------------------------------------------------------------------------
  function bookPush(channel: string, instId: string, action: "snapshot" | "update", d: OkxBookData, seqId: number, prevSeqId: number, checksum: number | undefined): string {
    const data: Record<string, unknown> = { asks: d.asks, bids: d.bids, ts: d.ts };
    if (checksum !== undefined) data.checksum = checksum;
    data.seqId = seqId;
    data.prevSeqId = prevSeqId;
    return JSON.stringify({ arg: { channel, instId }, action, data: [data] });
  }

  function snapshotFor(instId: string, channel: string): string | null {
    const i = instruments.get(instId);
    if (!i || !i.book.synced) return null;
    const b = i.book;
    return bookPush(channel, instId, "snapshot", { asks: toOkxLevels(b.asks), bids: toOkxLevels(b.bids), ts: String(b.ts) }, i.seqId, -1, okxChecksum(b.bids, b.asks));
  }

  function emit(original: ReplayEvent, tsOffset: number): void {
    const ev = tsOffset === 0 ? original : shiftTs(original, tsOffset);
    if (ev.kind === "trades") {
      const text = JSON.stringify({ arg: { channel: "trades", instId: ev.instId }, data: ev.data });
      for (const c of conns) if (c.trades.has(ev.instId)) push(c, text);
      return;
    }
    const i = inst(ev.instId);
    const r = applyBook(i.book, ev.action, ev.data);
    if (!r.ok) {
      log(`capture fault ${ev.instId}: ${r.fault} ${r.detail}`);
      return;
    }
    // Synthesize the chain: advance by the captured delta when the capture has seqIds, else by 1.
    const cap = ev.data.seqId;
    const delta = cap !== undefined && i.lastCapturedSeqId !== undefined && ev.action === "update" ? Math.max(1, cap - i.lastCapturedSeqId) : 1;
    i.lastCapturedSeqId = cap;
    const prev = ev.action === "snapshot" ? -1 : i.seqId;
    if (i.resetPending && ev.action === "update") {
      i.resetPending = false;
      i.seqId = 0; // the next seqId (delta) is below prevSeqId
    }
    i.seqId += delta;
    i.recent.push({ seqId: i.seqId, checksum: ev.data.checksum, ts: ev.data.ts });
    if (i.recent.length > 5000) i.recent.splice(0, 1000);
    const cache = new Map<string, string>();
    for (const c of conns) {
      const channel = c.books.get(ev.instId);
      if (channel === undefined) continue;
      let text = cache.get(channel);
      if (text === undefined) {
        text = bookPush(channel, ev.instId, ev.action, ev.data, i.seqId, prev, ev.data.checksum);
        cache.set(channel, text);
      }
      const d = ev.data;
      const seq = i.seqId;
      push(c, text, () => bookPush(channel, ev.instId, ev.action, d, seq, prev, (d.checksum || 1) ^ 0x5a5a5a5a));
    }
    if (opts.onBookPush && cache.size > 0) opts.onBookPush(ev.instId, i.seqId, cache.size);
  }

  // Each track has its own clock and loops on its own.
  interface TrackState {
    readonly events: ReplayEvent[];
    readonly instruments: Set<string>;
    position: number;
    base: number;
    done: boolean;
    /** Added to every captured ts of this loop (0 with originalTimestamps). */
    tsOffset: number;
  }
  const firstTs = (events: readonly ReplayEvent[]) => {
    for (const e of events) if (e.kind === "books") return +e.data.ts;
    return Date.now();
  };
  const offsetFor = (events: readonly ReplayEvent[]) => (opts.originalTimestamps ? 0 : Date.now() - firstTs(events));
  const tracks: TrackState[] = timeline.tracks.map((tr) => ({ ...tr, position: 0, base: performance.now(), done: false, tsOffset: offsetFor(tr.events) }));
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  function restart(tr: TrackState): void {
    tr.position = 0;
    tr.base = performance.now();
    tr.tsOffset = offsetFor(tr.events);
    loops++;
    for (const id of tr.instruments) {
      const i = instruments.get(id);
      if (!i) continue;
      i.book = createBook(id);
      i.lastCapturedSeqId = undefined;
    }
    log(`replay loop (${[...tr.instruments].join(", ")})`);
  }

  function tick(): void {
    timer = undefined;
    if (closed) return;
    const now = performance.now();
    let next = Infinity;
    for (const tr of tracks) {
      if (tr.done) continue;
      let budget = 2000; // yield to the event loop regularly even at infinite speed
      while (tr.position < tr.events.length && budget-- > 0) {
        if (tr.base + (tr.events[tr.position]!.t * 1000) / speed > now) break;
        emit(tr.events[tr.position++]!, tr.tsOffset);
      }
      if (tr.position >= tr.events.length) {
        if (!opts.loop) {
          tr.done = true;
          log(`replay finished (${[...tr.instruments].join(", ")})`);
          continue;
        }
        restart(tr);
      }
      next = Math.min(next, tr.base + (tr.events[tr.position]!.t * 1000) / speed);
    }
    if (next === Infinity) return;
    timer = setTimeout(tick, Math.max(0, next - performance.now()));
  }

  // ---- connections ----------------------------------------------------------------------------------------------
  function onMessage(c: Conn, text: string): void {
    touch(c);
    if (c.stalled) return;
    if (text === "ping") return rawSend(c, "pong");
    let req: unknown;
    try {
      req = JSON.parse(text);
    } catch {
      return rawSend(c, okxError("60012", `Invalid request: ${text.slice(0, 100)}`, c.id));
    }
    const r = req as { op?: unknown; args?: unknown };
    if ((r.op !== "subscribe" && r.op !== "unsubscribe") || !Array.isArray(r.args) || r.args.length === 0) {
      return rawSend(c, okxError("60012", `Invalid request: ${text.slice(0, 100)}`, c.id));
    }
    for (const a of r.args as unknown[]) {
      const arg = a as { channel?: unknown; instId?: unknown };
      if (typeof arg?.channel !== "string" || typeof arg.instId !== "string") {
        rawSend(c, okxError("60012", `Invalid request: ${text.slice(0, 100)}`, c.id));
        continue;
      }
      const { channel, instId } = arg;
      const isBooks = channel === "books" || channel === "books-l2-tbt";
      if (!isBooks && channel !== "trades") {
        rawSend(c, okxError("60018", `Wrong URL or channel:${channel},instId:${instId} doesn't exist. Please use the correct URL, channel and parameters referring to API document.`, c.id));
        continue;
      }
      const known = isBooks ? timeline.bookInstruments.has(instId) : timeline.instruments.has(instId);
      if (!known || c.subscribeError) {
        c.subscribeError = false;
        rawSend(c, okxError("60018", `Wrong URL or channel:${channel},instId:${instId} doesn't exist. Please use the correct URL, channel and parameters referring to API document.`, c.id));
        continue;
      }
      rawSend(c, JSON.stringify({ event: r.op, arg: { channel, instId }, connId: c.id }));
      if (r.op === "unsubscribe") {
        if (isBooks) c.books.delete(instId);
        else c.trades.delete(instId);
        continue;
      }
      if (isBooks) {
        c.books.set(instId, channel);
        const snap = snapshotFor(instId, channel);
        if (snap) push(c, snap);
      } else {
        c.trades.add(instId);
      }
    }
  }

  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  let connSeq = 0;

  const server = createServer((req, res) => handleHttp(req, res));
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
    wss.handleUpgrade(req, socket, head, (ws) => {
      connectionsTotal++;
      acceptedAt.push(Date.now());
      if (acceptedAt.length > 200) acceptedAt.shift();
      const c: Conn = {
        id: `c${++connSeq}`,
        ws,
        books: new Map(),
        trades: new Set(),
        pushes: 0,
        faults: [...everyConnFaults, ...nextConnFaults].map((spec) => ({ spec, firesAt: spec.after ?? 0 })),
        stalled: false,
        subscribeError: false,
        lastActivity: Date.now(),
      };
      if (c.faults.some((f) => f.spec.type === "subscribe-error")) {
        c.subscribeError = true;
        c.faults = c.faults.filter((f) => f.spec.type !== "subscribe-error");
      }
      nextConnFaults = [];
      conns.add(c);
      log(`connect ${c.id} (${conns.size} open)`);
      ws.on("message", (data, isBinary) => onMessage(c, isBinary ? "" : data.toString()));
      ws.on("close", () => {
        conns.delete(c);
        log(`close ${c.id} (${conns.size} open)`);
      });
      ws.on("error", () => conns.delete(c));
    });
  });

  const idleTimer = setInterval(() => {
    const limit = Date.now() - idleTimeoutMs;
    for (const c of conns) {
      if (c.lastActivity < limit) {
        log(`idle close ${c.id}`);
        c.ws.close(4004, "no data for 30s");
        conns.delete(c);
      }
    }
  }, Math.min(1000, idleTimeoutMs)).unref();

  // ---- HTTP: REST instruments + control API ---------------------------------------------------------------------
  function json(res: ServerResponse, status: number, body: unknown): void {
    const text = typeof body === "string" ? body : JSON.stringify(body);
    res.writeHead(status, { "content-type": "application/json" }).end(text);
  }

  function readBody(req: IncomingMessage): Promise<string> {
    return new Promise((resolve, reject) => {
      let s = "";
      req.setEncoding("utf8");
      req.on("data", (d: string) => {
        s += d;
        if (s.length > 65536) reject(new Error("body too large"));
      });
      req.on("end", () => resolve(s));
      req.on("error", reject);
    });
  }

  async function handleHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://x");
    try {
      if (url.pathname === "/api/v5/public/instruments" && opts.rest !== null) {
        const r = (opts.rest ?? bundledInstruments)(url);
        if (r) return json(res, r.status, r.body);
      }
      if (url.pathname === "/__control/state" && req.method === "GET") return json(res, 200, api.stats());
      if (url.pathname === "/__control/book" && req.method === "GET") {
        const instId = url.searchParams.get("instId") ?? "";
        const b = api.book(instId);
        if (!b) return json(res, 404, { error: `unknown instId ${instId}` });
        const depth = Number(url.searchParams.get("depth") ?? 25);
        return json(res, 200, { instId, seqId: instruments.get(instId)!.seqId, ts: b.ts, synced: b.synced, bids: topLevels(b.bids, depth), asks: topLevels(b.asks, depth), checksum: okxChecksum(b.bids, b.asks) });
      }
      if (url.pathname === "/__control/recent" && req.method === "GET") {
        return json(res, 200, api.recent(url.searchParams.get("instId") ?? ""));
      }
      if (url.pathname === "/__control/fault" && req.method === "POST") {
        const body = JSON.parse(await readBody(req)) as { scope?: "all" | "next"; instId?: string };
        const n = api.inject(parseFault(body), body.scope ?? "all", body.instId);
        return json(res, 200, { armed: n });
      }
      if (url.pathname === "/__control/refuse" && req.method === "POST") {
        const body = JSON.parse(await readBody(req)) as { ms?: number };
        api.refuse(Number(body.ms ?? 0));
        return json(res, 200, { refusingUntil: refuseUntil });
      }
      if (url.pathname === "/__control/seq-reset" && req.method === "POST") {
        api.resetSequence(url.searchParams.get("instId") ?? "");
        return json(res, 200, { ok: true });
      }
      if (url.pathname === "/" || url.pathname === "/health") {
        return json(res, 200, { exchange: "tradesim local OKX exchange", ws: `ws://${req.headers.host}${WS_PATH}`, instruments: [...timeline.instruments] });
      }
      json(res, 404, { code: "404", msg: "Not Found" });
    } catch (e) {
      json(res, 400, { error: (e as Error).message });
    }
  }

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
        if (instId !== undefined && !c.books.has(instId)) continue;
        if (fault.type === "subscribe-error") c.subscribeError = true;
        else c.faults.push({ spec: fault, firesAt: c.pushes + (fault.after ?? 0) });
        n++;
      }
      return n;
    },
    refuse(ms) {
      refuseUntil = Date.now() + Math.max(0, ms);
    },
    resetSequence(instId) {
      const i = instruments.get(instId);
      // Next update: prevSeqId = current seqId, seqId = small value (< prevSeqId), as in OKX maintenance.
      if (i) i.resetPending = true;
    },
    stats() {
      const insts: ExchangeStats["instruments"] = {};
      for (const [id, i] of instruments) {
        let subscribers = 0;
        for (const c of conns) if (c.books.has(id)) subscribers++;
        insts[id] = { seqId: i.seqId, synced: i.book.synced, ts: i.book.ts, subscribers };
      }
      return { connections: conns.size, connectionsTotal, rejectedConnections, acceptedAt: [...acceptedAt], pushes, loops, position: tracks.reduce((n, t) => n + t.position, 0), events: timeline.events.length, instruments: insts };
    },
    book: (instId) => instruments.get(instId)?.book,
    recent: (instId) => instruments.get(instId)?.recent ?? [],
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      clearInterval(idleTimer);
      for (const c of conns) c.ws.terminate();
      conns.clear();
      wss.close();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 8080, opts.host ?? "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = opts.host ?? "127.0.0.1";
  Object.assign(api, { port, url: `ws://${host}:${port}${WS_PATH}`, httpUrl: `http://${host}:${port}` });
  tick();
  return api;
}
