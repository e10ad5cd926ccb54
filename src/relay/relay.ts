/**
 * InstrumentRelay: one Durable Object per instrument (named by instId). It keeps the single outbound socket to
 * OKX for that instrument, maintains the L2 book (src/okx/book.ts), and fans the book out to any number of
 * browser WebSockets accepted with the Hibernation API.
 *
 * Runtime facts that shape this class:
 * - An open outbound WebSocket keeps the object in memory (it cannot hibernate), so the upstream is opened only
 *   while clients are connected and closed `graceMs` after the last one leaves.
 * - Client sockets are hibernatable: per-socket state that must survive eviction lives in the attachment
 *   (instId, kind, depth); flow-control counters are volatile and rebuilt as fresh in the constructor.
 * - Timers are alarms (they survive hibernation and eviction): keepalive ping, pong timeout, reconnect backoff,
 *   subscribe timeout and the grace close all share the one alarm, set to the earliest deadline.
 * - workerd exposes no `bufferedAmount`, so a slow reader cannot be detected from the socket, and a peer that stops
 *   reading makes the runtime queue every frame sent to it outside the JS heap. Reading can only be proven by the
 *   client echoing what it read, so every client has a send budget of `clientBudgetBytes` beyond its last `ack`:
 *   - clients that ack get a window of MAX_IN_FLIGHT books and are conflated to the latest book beyond it;
 *   - a client that never acks is paused when the budget runs out (told once with an `ack_required` error, the
 *     latest book on its next ack), and closed with 4008 if it stays paused for `clientStallMs`.
 *   What the runtime may hold for one client is therefore bounded by the budget (test/flow.workers.test.ts and
 *   test/e2e/slowreader.e2e.test.ts, which stops reading at the TCP level).
 * - Every entry point (fetch, webSocketMessage/Close/Error, alarm) catches and logs with its name; a failed send
 *   closes only that socket.
 */
import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env.js";
import { applyBook, bookChecksum, createBook, mid, spread, topLevels, type Book, type BookFault } from "../okx/book.js";
import { NOTICE_SERVICE_UPGRADE, OkxProtocolError, parseOkxMessage } from "../okx/protocol.js";
import {
  DEFAULT_DEPTH,
  MAX_CLIENT_FRAME,
  MAX_IN_FLIGHT,
  type BookMessage,
  type ErrorMessage,
  type PredictionMessage,
  type ScoreMessage,
  type StatusMessage,
  type UpstreamState,
} from "../protocol.js";
import { fallbackPredictor, loadBundledPredictor } from "../predict/bundled.js";
import { createForecaster, forecasterOnBook, forecasterReset, type ForecasterState } from "../predict/forecaster.js";
import { backoffDelay } from "./backoff.js";
import { connectWebSocket, type Upstream, type UpstreamConnector } from "./upstream.js";

/** What survives hibernation for each client socket. */
interface Attachment {
  instId: string;
  kind: "book" | "prediction";
  depth: number;
  id: number;
}

interface Client extends Attachment {
  /** Last `seq` the client acknowledged; null until its first ack (then flow control applies). */
  acked: number | null;
  /** Behind by more than MAX_IN_FLIGHT, or paused by the budget: gets the latest book on its next ack. */
  pending: boolean;
  badMessages: number;
  /** Bytes sent since the last ack (or since connecting). */
  unackedBytes: number;
  /** When the send budget ran out (Unix ms); null while the client is within it. */
  pausedAt: number | null;
}

function freshClient(a: Attachment): Client {
  return { ...a, acked: null, pending: false, badMessages: 0, unackedBytes: 0, pausedAt: null };
}

/** Relay counters and state, served on GET /status. */
export interface RelayStats {
  instId: string | null;
  state: UpstreamState | "idle";
  stateReason: string | null;
  clients: number;
  bookClients: number;
  predictionClients: number;
  upstreamMessages: number;
  bookMessages: number;
  broadcasts: number;
  sends: number;
  conflated: number;
  /** Clients paused because their send budget ran out without an ack (each pause counted once). */
  budgetPaused: number;
  /** Clients closed with 4008 after staying paused for clientStallMs. */
  stalledClosed: number;
  resyncs: number;
  reconnects: number;
  connectFailures: number;
  faults: Record<BookFault | "notice" | "stall" | "upstream-error" | "subscribe-timeout", number>;
  /** Forecasts and score messages sent on /ws/prediction. */
  predictions: number;
  scores: number;
  /** Model serving forecasts (`name@version`), null before the first book. */
  model: string | null;
  seqId: number | null;
  ts: number;
  bookLevels: { bids: number; asks: number };
  lastUpstreamAt: number | null;
  liveSince: number | null;
}

/** Relay timing, from env vars (strings) with production defaults. */
interface Timing {
  pingAfterMs: number;
  pongTimeoutMs: number;
  graceMs: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  subscribeTimeoutMs: number;
  invalidInstrumentMs: number;
  /** Bytes a client may be sent beyond its last ack before it is paused. */
  clientBudgetBytes: number;
  /** A client paused by its budget for this long is closed (4008). */
  clientStallMs: number;
}

function num(v: unknown, dflt: number): number {
  const n = typeof v === "string" && v !== "" ? Number(v) : NaN;
  return Number.isFinite(n) && n >= 0 ? n : dflt;
}

function timingFrom(env: Env): Timing {
  const e = env as unknown as Record<string, unknown>;
  return {
    pingAfterMs: num(e.RELAY_PING_AFTER_MS, 20_000), // OKX closes a socket with no traffic for 30 s
    pongTimeoutMs: num(e.RELAY_PONG_TIMEOUT_MS, 5_000),
    graceMs: num(e.RELAY_GRACE_MS, 30_000),
    backoffBaseMs: num(e.RELAY_BACKOFF_BASE_MS, 500),
    backoffMaxMs: num(e.RELAY_BACKOFF_MAX_MS, 30_000),
    subscribeTimeoutMs: num(e.RELAY_SUBSCRIBE_TIMEOUT_MS, 10_000),
    invalidInstrumentMs: num(e.RELAY_INVALID_INSTRUMENT_MS, 60_000),
    // 4 MiB: ~40 min of the default 25-level stream, ~20 s of 400-level books at OKX's 100 ms pace.
    clientBudgetBytes: num(e.RELAY_CLIENT_BUDGET_BYTES, 4 * 1024 * 1024),
    clientStallMs: num(e.RELAY_CLIENT_STALL_MS, 120_000),
  };
}

const ACK_REQUIRED = JSON.stringify({
  type: "error",
  code: "ack_required",
  message: 'send budget used up: send {"op":"ack","seq":N} with the last seq you processed to receive the latest data',
  fatal: false,
} satisfies ErrorMessage);

/**
 * Bounds the relay's book (memory) far above the deepest view served (400). Generous on purpose: deep levels do
 * come back to the top (capping the bundled BTC-USDT-SWAP stream at 400 breaks its checksum; 800 does not).
 */
const BOOK_APPLY = { maxLevels: 5000 } as const;

/** A deadline this close to the alarm's firing time counts as due. */
const ALARM_SLACK_MS = 5;

/** Close codes sent to clients. */
export const CLOSE_UNKNOWN_INSTRUMENT = 4004;
export const CLOSE_BAD_CLIENT = 1008;
/** Paused by the send budget and still no ack after clientStallMs. */
export const CLOSE_NOT_READING = 4008;

export class InstrumentRelay extends DurableObject<Env> {
  /** Tests replace this to inject an upstream (partyserver-style seam); production uses workerd's WebSocket. */
  static connector: UpstreamConnector = connectWebSocket;

  private instId: string | null = null;
  private book: Book = createBook("");
  private readonly clients = new Map<WebSocket, Client>();
  private nextClientId = 1;
  private readonly timing: Timing;

  private upstream: Upstream | null = null;
  private connecting = false;
  private state: UpstreamState | "idle" = "idle";
  private stateReason: string | null = null;
  private attempt = 0;
  private seq = 0;
  private lastBook: { seq: number; byDepth: Map<number, string> } | null = null;
  private lastUpstreamAt = 0;
  private pingSentAt: number | null = null;

  private reconnectAt: number | null = null;
  /** Connection slot reserved with the Directory's rate limiter (Unix ms), consumed by the next connect. */
  private slotAt: number | null = null;
  private subscribeDeadline: number | null = null;
  private graceAt: number | null = null;
  private invalidUntil = 0;
  private invalidReason = "";
  private alarmAt: number | null = null;
  private recentResyncs: number[] = [];

  /** Features + model + live scoring; created with the instrument, model loaded in the background. */
  private forecaster: ForecasterState | null = null;
  private lastPrediction: string | null = null;
  private lastScore: string | null = null;

  private readonly stats: RelayStats = {
    instId: null,
    state: "idle",
    stateReason: null,
    clients: 0,
    bookClients: 0,
    predictionClients: 0,
    upstreamMessages: 0,
    bookMessages: 0,
    broadcasts: 0,
    sends: 0,
    conflated: 0,
    budgetPaused: 0,
    stalledClosed: 0,
    resyncs: 0,
    reconnects: 0,
    connectFailures: 0,
    faults: { "no-snapshot": 0, gap: 0, checksum: 0, crossed: 0, malformed: 0, notice: 0, stall: 0, "upstream-error": 0, "subscribe-timeout": 0 },
    predictions: 0,
    scores: 0,
    model: null,
    seqId: null,
    ts: 0,
    bookLevels: { bids: 0, asks: 0 },
    lastUpstreamAt: null,
    liveSince: null,
  };

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.timing = timingFrom(env);
    // Answered by the runtime without waking the object: clients keep their socket alive cheaply.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
    // After hibernation or eviction, rebuild the client table from the attachments.
    for (const ws of ctx.getWebSockets()) {
      const a = ws.deserializeAttachment() as Attachment | null;
      if (!a) continue;
      this.instId ??= a.instId;
      this.nextClientId = Math.max(this.nextClientId, a.id + 1);
      this.clients.set(ws, freshClient(a));
    }
    if (this.instId) this.book = createBook(this.instId);
  }

  // ---- entry points ---------------------------------------------------------------------------------------------

  override async fetch(request: Request): Promise<Response> {
    try {
      const url = new URL(request.url);
      if (url.pathname === "/stats") return Response.json(this.snapshotStats());
      if (url.pathname !== "/connect") return new Response("not found", { status: 404 });
      const instId = url.searchParams.get("instId") ?? "";
      const kind = url.searchParams.get("kind") === "prediction" ? "prediction" : "book";
      const depth = Number(url.searchParams.get("depth")) || DEFAULT_DEPTH;
      if (this.instId === null) {
        this.instId = instId;
        this.book = createBook(instId);
      }
      return this.accept(kind, depth);
    } catch (e) {
      console.error("relay.fetch", this.instId, e);
      return new Response("relay error", { status: 500 });
    }
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    try {
      const c = this.clients.get(ws);
      if (!c) return;
      if (typeof message !== "string") return this.closeClient(ws, 1003, "binary frames are not supported");
      if (message.length > MAX_CLIENT_FRAME) return this.closeClient(ws, 1009, `frames over ${MAX_CLIENT_FRAME} bytes are not accepted`);
      let msg: unknown;
      try {
        msg = JSON.parse(message);
      } catch {
        msg = null;
      }
      const m = msg as { op?: unknown; seq?: unknown } | null;
      if (m && m.op === "ack" && typeof m.seq === "number" && Number.isInteger(m.seq) && m.seq >= 0) {
        this.onAck(ws, c, m.seq);
        return;
      }
      c.badMessages++;
      if (c.badMessages > 10) return this.closeClient(ws, CLOSE_BAD_CLIENT, "too many invalid messages");
      this.sendTo(ws, JSON.stringify({ type: "error", code: "bad_message", message: 'expected {"op":"ack","seq":N} or the text "ping"', fatal: false } satisfies ErrorMessage));
    } catch (e) {
      console.error("relay.webSocketMessage", this.instId, e);
    }
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    try {
      this.removeClient(ws);
      try {
        ws.close(code === 1005 || code === 1006 ? 1000 : code, reason);
      } catch {
        // already closed
      }
    } catch (e) {
      console.error("relay.webSocketClose", this.instId, e);
    }
  }

  override async webSocketError(ws: WebSocket, error: unknown): Promise<void> {
    try {
      console.warn("relay.webSocketError", this.instId, String(error));
      this.removeClient(ws);
    } catch (e) {
      console.error("relay.webSocketError", this.instId, e);
    }
  }

  override async alarm(): Promise<void> {
    try {
      this.alarmAt = null;
      // Alarms fire on whole milliseconds and may fire a little early: a deadline within ALARM_SLACK_MS is due.
      // (Without the slack a fractional deadline never becomes due and the rescheduled alarm never fires again.)
      const now = Date.now() + ALARM_SLACK_MS;
      if (this.graceAt !== null && now >= this.graceAt) {
        this.graceAt = null;
        if (this.clients.size === 0) this.closeUpstream("no clients");
      }
      if (this.reconnectAt !== null && now >= this.reconnectAt) {
        this.reconnectAt = null;
        if (this.clients.size > 0) void this.openUpstream();
      }
      if (this.upstream) {
        if (this.subscribeDeadline !== null && now >= this.subscribeDeadline) {
          this.subscribeDeadline = null;
          this.stats.faults["subscribe-timeout"]++;
          this.reconnect("no snapshot after subscribe");
        } else if (this.pingSentAt !== null && now - this.pingSentAt >= this.timing.pongTimeoutMs) {
          this.stats.faults.stall++;
          this.reconnect(`stalled: no data and no pong for ${now - this.lastUpstreamAt} ms`);
        } else if (this.pingSentAt === null && now - this.lastUpstreamAt >= this.timing.pingAfterMs) {
          this.pingSentAt = Date.now(); // the real send time (now carries the alarm slack)
          this.upstreamSend("ping");
        }
      } else if (this.clients.size > 0 && !this.connecting && this.reconnectAt === null) {
        // Woken after eviction with clients still attached: bring the upstream back.
        void this.openUpstream();
      }
      await this.schedule();
    } catch (e) {
      console.error("relay.alarm", this.instId, e);
    }
  }

  // ---- clients --------------------------------------------------------------------------------------------------

  private accept(kind: "book" | "prediction", depth: number): Response {
    const pair = new WebSocketPair();
    const server = pair[1];
    this.ctx.acceptWebSocket(server, [kind]);
    const a: Attachment = { instId: this.instId!, kind, depth, id: this.nextClientId++ };
    server.serializeAttachment(a);
    const c = freshClient(a);
    this.clients.set(server, c);
    this.graceAt = null;
    if (Date.now() < this.invalidUntil) {
      this.sendTo(server, this.unknownInstrumentError());
      this.closeClient(server, CLOSE_UNKNOWN_INSTRUMENT, "unknown instrument");
    } else {
      // Starting the upstream broadcasts "connecting" to every client, this one included; otherwise tell it now.
      const before = this.state;
      this.ensureUpstream();
      if (this.state === before) this.sendTo(server, this.statusMessage());
      if (kind === "book" && this.book.synced) this.sendBudgeted(server, c, this.bookString(depth));
      if (kind === "prediction") {
        if (this.lastPrediction) this.sendBudgeted(server, c, this.lastPrediction);
        if (this.lastScore) this.sendBudgeted(server, c, this.lastScore);
      }
    }
    return new Response(null, { status: 101, webSocket: pair[0] });
  }

  private removeClient(ws: WebSocket): void {
    if (!this.clients.delete(ws)) return;
    if (this.clients.size === 0) {
      this.graceAt = Date.now() + this.timing.graceMs;
      void this.schedule();
    }
  }

  private closeClient(ws: WebSocket, code: number, reason: string): void {
    this.removeClient(ws);
    try {
      ws.close(code, reason);
    } catch {
      // already closed
    }
  }

  /** Send one frame; a failed send closes only that socket. */
  private sendTo(ws: WebSocket, text: string): boolean {
    try {
      ws.send(text);
      this.stats.sends++;
      return true;
    } catch (e) {
      console.warn("relay.send failed; closing that client", this.instId, String(e));
      this.closeClient(ws, 1011, "send failed");
      return false;
    }
  }

  private onAck(ws: WebSocket, c: Client, seq: number): void {
    c.acked = Math.min(seq, this.seq);
    // Everything sent before the ack was read; what was sent after it is at most the in-flight window, so the
    // budget restarts from zero (an approximation that errs by at most MAX_IN_FLIGHT messages).
    c.unackedBytes = 0;
    c.pausedAt = null;
    if (c.pending) {
      c.pending = false;
      if (c.kind === "book" && this.book.synced) this.sendBudgeted(ws, c, this.bookString(c.depth));
      if (c.kind === "prediction" && this.lastPrediction) this.sendBudgeted(ws, c, this.lastPrediction);
    }
  }

  /**
   * Send a data message (book, prediction, score) within the client's budget. Over budget, the client is paused:
   * told once with `ack_required`, and given the latest book when it acks.
   */
  private sendBudgeted(ws: WebSocket, c: Client, text: string): void {
    if (c.pausedAt !== null) return;
    if (c.unackedBytes + text.length > this.timing.clientBudgetBytes) {
      c.pausedAt = Date.now();
      c.pending = true;
      this.stats.budgetPaused++;
      this.sendTo(ws, ACK_REQUIRED);
      return;
    }
    if (this.sendTo(ws, text)) c.unackedBytes += text.length; // ASCII JSON: UTF-16 length == bytes
  }

  /** Status and errors always go out (they are small and rare); data goes through the budget. */
  private broadcast(text: string, kind?: Client["kind"]): void {
    for (const [ws, c] of this.clients) {
      if (kind === undefined) this.sendTo(ws, text);
      else if (c.kind === kind) this.sendBudgeted(ws, c, text);
    }
    this.closeStalled();
  }

  private lastStallSweep = 0;

  /** Close clients that stayed paused by their budget for clientStallMs (checked at most once a second). */
  private closeStalled(): void {
    const now = Date.now();
    if (now - this.lastStallSweep < 1000) return;
    this.lastStallSweep = now;
    for (const [ws, c] of [...this.clients]) {
      if (c.pausedAt === null || now - c.pausedAt < this.timing.clientStallMs) continue;
      this.stats.stalledClosed++;
      this.closeClient(ws, CLOSE_NOT_READING, "not reading: no ack after the send budget ran out");
    }
  }

  // ---- prediction -----------------------------------------------------------------------------------------------

  private ensureForecaster(): ForecasterState {
    if (this.forecaster) return this.forecaster;
    const fc = createForecaster({ instId: this.instId!, predictor: fallbackPredictor() });
    this.forecaster = fc;
    this.stats.model = `${fc.predictor.name}@${fc.predictor.version}`;
    // ~200 ms once per isolate; until then the no-change fallback serves (same message shape, its own name).
    loadBundledPredictor().then(
      (p) => {
        fc.predictor = p;
        this.stats.model = `${p.name}@${p.version}`;
      },
      (e: unknown) => console.error("relay.loadBundledPredictor", this.instId, e),
    );
    return fc;
  }

  /** Features on every book change; forecasts and scores (rate-limited by the forecaster) to prediction clients. */
  private predict(): void {
    const out = forecasterOnBook(this.ensureForecaster(), this.book);
    if (out.score) {
      this.lastScore = JSON.stringify(out.score satisfies ScoreMessage);
      this.stats.scores++;
      this.broadcast(this.lastScore, "prediction");
    }
    out.prediction?.then((m) => {
      if (!m) return;
      this.lastPrediction = JSON.stringify(m satisfies PredictionMessage);
      this.stats.predictions++;
      this.broadcast(this.lastPrediction, "prediction");
    });
  }

  // ---- book fan-out ---------------------------------------------------------------------------------------------

  /** The book message for a depth, serialized once per (book change, depth) and shared by all clients. */
  private bookString(depth: number): string {
    if (!this.lastBook || this.lastBook.seq !== this.seq) this.lastBook = { seq: this.seq, byDepth: new Map() };
    let s = this.lastBook.byDepth.get(depth);
    if (s === undefined) {
      const b = this.book;
      s = JSON.stringify({
        type: "book",
        instId: b.instId,
        seq: this.seq,
        ts: b.ts,
        seqId: b.seqId,
        bids: topLevels(b.bids, depth),
        asks: topLevels(b.asks, depth),
        depth,
        mid: mid(b),
        spread: spread(b),
        checksum: this.checksum,
      } satisfies BookMessage);
      this.lastBook.byDepth.set(depth, s);
    }
    return s;
  }

  private checksum = 0;

  private broadcastBook(): void {
    this.seq++;
    this.checksum = bookChecksum(this.book); // cached: free when the update was just verified
    this.stats.broadcasts++;
    for (const [ws, c] of this.clients) {
      if (c.kind !== "book") continue;
      if (c.acked !== null && this.seq - c.acked > MAX_IN_FLIGHT) {
        if (!c.pending) this.stats.conflated++;
        c.pending = true;
        continue;
      }
      this.sendBudgeted(ws, c, this.bookString(c.depth));
    }
    this.closeStalled();
  }

  /**
   * The live book for the simulator (RPC): top `depth` levels as numbers, or null when the relay has no synced
   * book (no client has subscribed this instrument, or it is resyncing).
   */
  liveBook(depth = 400): { bids: { price: number; size: number }[]; asks: { price: number; size: number }[]; ts: number } | null {
    if (!this.book.synced) return null;
    const side = (ls: readonly { price: number; size: number }[]) => ls.slice(0, depth).map((l) => ({ price: l.price, size: l.size }));
    return { bids: side(this.book.bids), asks: side(this.book.asks), ts: this.book.ts };
  }

  // ---- upstream -------------------------------------------------------------------------------------------------

  private setState(state: UpstreamState | "idle", reason: string | null): void {
    if (state === this.state && reason === this.stateReason) return;
    this.state = state;
    this.stateReason = reason;
    if (state === "live") this.stats.liveSince = Date.now();
    this.report();
    console.log(`relay ${this.instId} ${state}${reason ? `: ${reason}` : ""}`);
    if (state !== "idle") this.broadcast(this.statusMessage());
  }

  /** Tell the Directory (for GET /status); fire-and-forget, a failure only costs a stale listing. */
  private report(): void {
    if (!this.instId || !this.env.DIRECTORY) return;
    const dir = this.env.DIRECTORY.get(this.env.DIRECTORY.idFromName("global"));
    this.ctx.waitUntil(
      dir.report({ instId: this.instId, state: this.state, clients: this.clients.size, at: Date.now() }).catch((e: unknown) => console.warn("relay.report", String(e))),
    );
  }

  private statusMessage(): string {
    const state = this.state === "idle" ? "connecting" : this.state;
    return JSON.stringify({
      type: "status",
      instId: this.instId ?? "",
      state,
      ...(this.stateReason !== null && { reason: this.stateReason }),
      at: Date.now(),
    } satisfies StatusMessage);
  }

  private unknownInstrumentError(): string {
    return JSON.stringify({ type: "error", code: "unknown_instrument", message: this.invalidReason, fatal: true } satisfies ErrorMessage);
  }

  private ensureUpstream(): void {
    if (this.upstream || this.connecting || this.reconnectAt !== null) return;
    void this.openUpstream();
  }

  private async openUpstream(): Promise<void> {
    if (this.upstream || this.connecting || !this.instId) return;
    this.connecting = true;
    // Queue for one of OKX's 3-per-second connection slots (shared by every relay through the Directory).
    if (this.env.DIRECTORY && (this.slotAt === null || Date.now() < this.slotAt - 5)) {
      try {
        this.slotAt = await this.env.DIRECTORY.get(this.env.DIRECTORY.idFromName("global")).reserveConnectSlot();
      } catch (e) {
        console.warn("relay.reserveConnectSlot", String(e));
        this.slotAt = null;
      }
      if (this.slotAt !== null && this.slotAt > Date.now() + 5) {
        this.connecting = false;
        this.reconnectAt = this.slotAt;
        await this.schedule();
        return;
      }
    }
    this.slotAt = null;
    this.setState(this.state === "down" ? "down" : "connecting", this.state === "down" ? this.stateReason : null);
    const url = this.env.OKX_WS_URL;
    try {
      const up = await InstrumentRelay.connector(url, {
        onMessage: (text) => {
          if (this.upstream === up) this.onUpstreamMessage(text);
        },
        onClose: (code, reason) => {
          if (this.upstream === up) this.onUpstreamClosed(`closed ${code}${reason ? ` ${reason}` : ""}`);
        },
      });
      this.connecting = false;
      if (this.clients.size === 0) {
        up.close(1000, "no clients");
        this.setState("idle", null);
        return;
      }
      this.upstream = up;
      this.lastUpstreamAt = Date.now();
      this.pingSentAt = null;
      this.setState("connecting", "subscribing");
      this.subscribe();
    } catch (e) {
      this.connecting = false;
      this.stats.connectFailures++;
      this.onUpstreamClosed(`connect failed: ${e instanceof Error ? e.message : String(e)}`);
    }
    await this.schedule();
  }

  private subscribe(): void {
    this.book = createBook(this.instId!);
    this.upstreamSend(JSON.stringify({ op: "subscribe", args: [{ channel: "books", instId: this.instId! }] }));
    this.subscribeDeadline = Date.now() + this.timing.subscribeTimeoutMs;
  }

  private upstreamSend(text: string): void {
    try {
      this.upstream?.send(text);
    } catch (e) {
      this.onUpstreamClosed(`send failed: ${String(e)}`);
    }
  }

  private onUpstreamMessage(text: string): void {
    this.lastUpstreamAt = Date.now();
    this.stats.lastUpstreamAt = this.lastUpstreamAt;
    this.pingSentAt = null; // any traffic proves the connection is alive
    this.stats.upstreamMessages++;
    let m;
    try {
      m = parseOkxMessage(text);
    } catch (e) {
      if (!(e instanceof OkxProtocolError)) throw e;
      this.stats.faults.malformed++;
      return this.resync("malformed", e.message);
    }
    switch (m.kind) {
      case "books": {
        if (m.arg.instId !== this.instId) return;
        this.stats.bookMessages++;
        if (!this.book.synced && m.action === "update") return; // resyncing: wait for the snapshot
        const r = applyBook(this.book, m.action, m.data, BOOK_APPLY);
        if (!r.ok) {
          this.stats.faults[r.fault]++;
          return this.resync(r.fault, r.detail);
        }
        if (m.action === "snapshot") {
          this.subscribeDeadline = null;
          this.attempt = 0;
          this.setState("live", null);
        }
        this.stats.seqId = this.book.seqId;
        this.stats.ts = this.book.ts;
        if (r.changed) {
          this.broadcastBook();
          this.predict();
        }
        return;
      }
      case "error":
        return this.onUpstreamError(m.code, m.msg);
      case "notice":
        this.stats.faults.notice++;
        if (m.code === NOTICE_SERVICE_UPGRADE) return this.reconnect(`notice ${m.code}: ${m.msg}`, true);
        console.warn("relay notice", this.instId, m.code, m.msg);
        return;
      default:
        return; // pong, acks, other channels
    }
  }

  private onUpstreamError(code: string, msg: string): void {
    this.stats.faults["upstream-error"]++;
    console.warn("relay upstream error", this.instId, code, msg);
    // 60018: channel/instId doesn't exist. Tell clients, close them, and do not reconnect for a while:
    // retrying an unknown instrument would only hammer OKX's connection limit.
    if (code === "60018" || /doesn't exist/i.test(msg)) {
      this.invalidUntil = Date.now() + this.timing.invalidInstrumentMs;
      this.invalidReason = `OKX does not know instrument ${this.instId}: ${msg}`;
      const text = this.unknownInstrumentError();
      for (const ws of [...this.clients.keys()]) {
        this.sendTo(ws, text);
        this.closeClient(ws, CLOSE_UNKNOWN_INSTRUMENT, "unknown instrument");
      }
      this.closeUpstream("unknown instrument");
      return;
    }
    this.resync("upstream-error", `${code} ${msg}`);
  }

  /** Drop the book and get a fresh snapshot: resubscribe on the same socket, or reconnect if faults repeat. */
  private resync(fault: string, detail: string): void {
    this.stats.resyncs++;
    console.warn(`relay ${this.instId} resync (${fault}): ${detail}`);
    const now = Date.now();
    this.recentResyncs = this.recentResyncs.filter((t) => t > now - 10_000);
    this.recentResyncs.push(now);
    this.dropBook();
    if (this.recentResyncs.length > 3) return this.reconnect(`${fault}: repeated faults`);
    this.setState("resyncing", fault);
    this.upstreamSend(JSON.stringify({ op: "unsubscribe", args: [{ channel: "books", instId: this.instId! }] }));
    this.subscribe();
    void this.schedule();
  }

  /** Close the upstream and open a new one (immediately when `now`, else after backoff). */
  private reconnect(reason: string, now = false): void {
    const up = this.upstream;
    this.upstream = null;
    up?.close(1000, "reconnect");
    this.stats.reconnects++;
    this.dropBook();
    this.subscribeDeadline = null;
    this.pingSentAt = null;
    this.setState("resyncing", reason);
    if (now) {
      void this.openUpstream();
    } else {
      this.scheduleReconnect();
    }
  }

  private onUpstreamClosed(reason: string): void {
    this.upstream = null;
    this.subscribeDeadline = null;
    this.pingSentAt = null;
    this.dropBook();
    if (this.clients.size === 0) {
      this.setState("idle", reason);
      return;
    }
    this.setState("down", reason);
    this.scheduleReconnect();
  }

  /** The book is no longer trusted: clear it and restart the feature windows (no forecast spans a resync). */
  private dropBook(): void {
    this.book = createBook(this.instId ?? "");
    if (this.forecaster) forecasterReset(this.forecaster);
  }

  private scheduleReconnect(): void {
    const delay = backoffDelay(this.attempt++, this.timing.backoffBaseMs, this.timing.backoffMaxMs);
    this.reconnectAt = Math.ceil(Date.now() + delay);
    void this.schedule();
  }

  private closeUpstream(reason: string): void {
    const up = this.upstream;
    this.upstream = null;
    this.subscribeDeadline = null;
    this.pingSentAt = null;
    this.reconnectAt = null;
    up?.close(1000, reason);
    this.dropBook();
    this.setState("idle", reason);
  }

  // ---- timers ---------------------------------------------------------------------------------------------------

  private async schedule(): Promise<void> {
    try {
      await this.scheduleAlarm();
    } catch (e) {
      console.error("relay.schedule", this.instId, e);
    }
  }

  private async scheduleAlarm(): Promise<void> {
    const ds: number[] = [];
    if (this.graceAt !== null) ds.push(this.graceAt);
    if (this.reconnectAt !== null) ds.push(this.reconnectAt);
    if (this.upstream) {
      if (this.subscribeDeadline !== null) ds.push(this.subscribeDeadline);
      ds.push(this.pingSentAt !== null ? this.pingSentAt + this.timing.pongTimeoutMs : this.lastUpstreamAt + this.timing.pingAfterMs);
    }
    if (ds.length === 0) return;
    const at = Math.ceil(Math.min(...ds));
    if (this.alarmAt !== null && this.alarmAt <= at && this.alarmAt > Date.now()) return;
    this.alarmAt = at;
    await this.ctx.storage.setAlarm(at);
  }

  private snapshotStats(): RelayStats {
    let book = 0;
    let pred = 0;
    for (const c of this.clients.values()) c.kind === "book" ? book++ : pred++;
    return {
      ...this.stats,
      instId: this.instId,
      state: this.state,
      stateReason: this.stateReason,
      clients: this.clients.size,
      bookClients: book,
      predictionClients: pred,
      bookLevels: { bids: this.book.bids.length, asks: this.book.asks.length },
    };
  }
}
