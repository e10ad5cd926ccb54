/**
 * The relay for one instrument as plain TypeScript: the upstream session (src/relay/session.ts), the L2 book,
 * the client table with flow control (clients.ts, flow.ts), book fan-out (fanout.ts), prediction
 * (prediction.ts), stats and timers (scheduler.ts). Everything the runtime provides comes in through
 * `RelayPorts` (clock, upstream connector, connect-slot limiter, Directory report, alarm), so the whole relay runs
 * in Node tests with a fake clock, fake sockets and a fake exchange; the Durable Object (relay.ts) only wires its
 * entry points to the methods here.
 *
 * Runtime facts that shape it:
 * - An open outbound WebSocket keeps the object in memory (it cannot hibernate), so the upstream is opened only
 *   while clients are connected and closed `graceMs` after the last one leaves.
 * - Timers are one alarm (survives hibernation and eviction) set to the earliest deadline.
 * - A failed send closes only that socket; every callback runs through `guard`.
 */
import { applyBook, bookChecksum, createBook, type Book } from "../okx/book.js";
import { createBookHistory, type BookHistory, type BookHistorySnapshot } from "../sim/history.js";
import {
  NOTICE_SERVICE_UPGRADE,
  OkxProtocolError,
  OkxTradesError,
  okxRequest,
  parseOkxMessage,
  type OkxMessage,
} from "../okx/protocol.js";
import {
  ACK_REQUIRED,
  badMessage,
  CLOSE,
  errorMessage,
  laggingMessage,
  MAX_BAD_MESSAGES,
  parseClientMessage,
  statusMessage,
} from "../protocol.js";
import { backoffDelay } from "./backoff.js";
import { ClientTable, type Attachment, type Client, type ClientKind, type ClientSocket } from "./clients.js";
import type { RelayConfig } from "./config.js";
import { BookCache } from "./fanout.js";
import { acknowledge, admit, clientLag, isLagClosed, isStalled, settleLag, type StalenessBound } from "./flow.js";
import { LagTracker, SentRing } from "./lag.js";
import { guard, type Log } from "./guard.js";
import { PredictionPart, type PredictorSource } from "./prediction.js";
import { ALARM_SLACK_MS, AlarmScheduler } from "./scheduler.js";
import * as S from "./session.js";
import { createStats, type RelayFault, type RelayStats } from "./stats.js";
import type { Upstream, UpstreamConnector } from "./upstream.js";
import type { OkxChannel } from "../okx/protocol.js";

/** What the Directory is told on every state change (for GET /status). */
export interface RelayReport {
  instId: string;
  state: string;
  clients: number;
  at: number;
}

/** Everything the relay needs from its runtime. */
export interface RelayPorts {
  readonly now: () => number;
  readonly connect: UpstreamConnector;
  /** Reserve one of the shared connect slots: resolves to the Unix ms at which this relay may connect. */
  readonly reserveConnectSlot: (() => Promise<number>) | null;
  readonly report: (r: RelayReport) => void;
  readonly setAlarm: (at: number) => Promise<void>;
  readonly predictors: PredictorSource;
  readonly log: Log & { warn(...args: unknown[]): void; info(...args: unknown[]): void };
  readonly random?: () => number;
  /** Run `fn` after `ms` (setTimeout in workerd; the fake clock's queue in tests). */
  readonly defer: (ms: number, fn: () => void) => void;
}

/** The live book for the simulator: top `depth` levels as numbers. */
export interface LiveBook {
  bids: { price: number; size: number }[];
  asks: { price: number; size: number }[];
  ts: number;
}

/**
 * Bounds the relay's book (memory) far above the deepest view served (400). Generous on purpose: deep levels do
 * come back to the top (capping the bundled BTC-USDT-SWAP stream at 400 breaks its checksum; 800 does not).
 */
const BOOK_APPLY = { maxLevels: 5000 } as const;

/** Clients paused by their budget are checked for the stall close at most this often. */
const STALL_SWEEP_MS = 1000;

export class RelayCore<W extends ClientSocket = ClientSocket> {
  private instId: string | null = null;
  private book: Book = createBook("");
  private readonly clients = new ClientTable<W>();
  private readonly session: S.Session = S.createSession();
  private readonly timing: S.SessionTiming;
  private readonly alarm: AlarmScheduler;
  private readonly books = new BookCache();
  private prediction: PredictionPart | null = null;
  /** Recent book changes (bounded ring) for the simulator's empirical latency cost. */
  private history: BookHistory | null = null;
  private readonly stats: RelayStats = createStats();
  private seq = 0;
  private checksum = 0;
  /** Deadline of the grace close after the last client left; null while clients are attached. */
  private graceAt: number | null = null;
  /** Pending slot time from the limiter, consumed by the next connect. */
  private slotAt: number | null = null;
  private lastStallSweep = 0;
  /** Relay lag behind the exchange (for coalescing) and when each recent book went out (for client staleness). */
  private readonly lag = new LagTracker();
  private readonly sentAt = new SentRing();
  private readonly bound: StalenessBound;
  private lastBroadcastAt = -Infinity;
  /** A book change not yet broadcast because the relay is coalescing; a trailing flush sends it. */
  private dirty = false;
  private flushArmed = false;

  constructor(
    private readonly cfg: RelayConfig,
    private readonly ports: RelayPorts,
  ) {
    this.timing = cfg;
    this.bound = cfg;
    this.alarm = new AlarmScheduler(ports.setAlarm, ports.now);
  }

  // ---- entry points (called by the Durable Object) --------------------------------------------------------------

  /** After hibernation or eviction: rebuild the client table from the runtime's sockets. */
  restore(sockets: Iterable<W>): void {
    const instId = this.clients.restore(sockets);
    if (instId) this.setInstrument(instId);
  }

  /** A label for logs. */
  get label(): string | null {
    return this.instId;
  }

  /** The attachment for a new client socket; store it on the socket, accept it, then call `onOpen`. */
  newAttachment(instId: string, kind: ClientKind, depth: number): Attachment {
    if (this.instId === null) this.setInstrument(instId);
    return this.clients.attachment(this.instId!, kind, depth);
  }

  /** A client socket was accepted: greet it (status, current book or forecast) and make sure the upstream runs. */
  onOpen(ws: W, a: Attachment): void {
    const c = this.clients.add(ws, a);
    this.graceAt = null;
    const now = this.ports.now();
    const p = this.session.phase;
    if (S.isRefused(p, now)) {
      this.send(ws, errorMessage("unknown_instrument", p.reason, true));
      this.close(ws, CLOSE.unknownInstrument, "unknown instrument");
      return;
    }
    // Starting the upstream broadcasts the new status to every client, this one included; otherwise tell it now.
    const before = S.shownOf(p);
    if (S.wantsConnect(p, now)) this.guarded("relay.openUpstream", this.openUpstream());
    const after = S.shownOf(this.session.phase);
    if (before.state === after.state && before.reason === after.reason) this.send(ws, this.statusText());
    if (c.kind === "book" && this.book.synced) this.deliver(ws, c, this.bookText(c.depth), null);
    if (c.kind === "prediction") for (const s of this.prediction?.latest() ?? []) this.deliver(ws, c, s, null);
  }

  /** A client frame: acks drive flow control; anything else is answered `bad_message`, or closes the socket. */
  onMessage(ws: W, frame: string | ArrayBuffer): void {
    const c = this.clients.get(ws);
    if (!c) return;
    const r = parseClientMessage(frame);
    if (r.ok) {
      this.onAck(ws, c, r.message.seq);
      return;
    }
    if (r.close !== null) {
      this.close(ws, r.close, r.reason);
      return;
    }
    c.badMessages++;
    if (c.badMessages > MAX_BAD_MESSAGES) this.close(ws, CLOSE.badClient, "too many invalid messages");
    else this.send(ws, badMessage(r.reason));
  }

  /** The client closed (or errored): forget it. */
  onClose(ws: W): void {
    this.removeClient(ws);
  }

  /** The alarm fired: run every due timer, then re-arm for the next deadline. */
  async onAlarm(): Promise<void> {
    this.alarm.fired();
    const now = this.ports.now() + ALARM_SLACK_MS;
    if (this.graceAt !== null && now >= this.graceAt) {
      this.graceAt = null;
      if (this.clients.size === 0) this.closeUpstream("no clients");
    }
    const p = this.session.phase;
    const due = S.dueTimer(p, now, this.timing);
    switch (due?.kind) {
      case "retry":
        if (this.clients.size > 0) await this.openUpstream();
        else this.session.phase = S.toIdle(null);
        break;
      case "subscribe-timeout":
        this.count("subscribe-timeout");
        this.reconnect("no snapshot after subscribe");
        break;
      case "stall":
        this.count("stall");
        this.reconnect(`stalled: no data and no pong for ${due.silentMs} ms`);
        break;
      case "ping":
        this.session.phase = S.onPingSent(p, this.ports.now()); // the real send time (now carries the slack)
        this.upstreamSend("ping");
        break;
      default:
        // Woken after eviction with clients still attached: bring the upstream back.
        if (S.wantsConnect(p, now) && this.clients.size > 0) await this.openUpstream();
    }
    await this.schedule();
  }

  /** The live book for the simulator (RPC), or null when the relay has no synced book. */
  liveBook(depth = 400): LiveBook | null {
    if (!this.book.synced) return null;
    const side = (ls: readonly { price: number; size: number }[]) =>
      ls.slice(0, depth).map((l) => ({ price: l.price, size: l.size }));
    return { bids: side(this.book.bids), asks: side(this.book.asks), ts: this.book.ts };
  }

  /** The recent book changes (RPC, for POST /simulate/trade with `latencyMs`), or null before any book. */
  bookHistory(): BookHistorySnapshot | null {
    return this.history && this.history.size > 0 ? this.history.snapshot() : null;
  }

  /** Counters and state (RPC, GET /status). */
  snapshotStats(): RelayStats {
    const n = this.clients.counts();
    const shown = this.shownState();
    const now = this.ports.now();
    const lags: number[] = [];
    let lagging = 0;
    for (const [, c] of this.clients) {
      if (c.kind !== "book" || c.flow.acked === null) continue;
      lags.push(clientLag(c.flow, now));
      if (c.flow.lagSince !== null) lagging++;
    }
    lags.sort((a, b) => a - b);
    const q = (p: number) => (lags.length ? lags[Math.max(0, Math.ceil(p * lags.length) - 1)]! : null);
    return {
      ...this.stats,
      instId: this.instId,
      state: shown.state,
      stateReason: shown.reason,
      clients: this.clients.size,
      bookClients: n.book,
      predictionClients: n.prediction,
      model: this.prediction?.model ?? null,
      bookLevels: { bids: this.book.bids.length, asks: this.book.asks.length },
      clientLag: { measured: lags.length, p50Ms: q(0.5), p99Ms: q(0.99), maxMs: lags.at(-1) ?? null, lagging },
    };
  }

  // ---- clients --------------------------------------------------------------------------------------------------

  private setInstrument(instId: string): void {
    this.instId = instId;
    this.book = createBook(instId);
    this.history = createBookHistory();
    this.prediction = new PredictionPart(instId, this.ports.predictors, (e) =>
      this.ports.log.error("relay.loadPredictor", instId, e),
    );
  }

  private removeClient(ws: W): void {
    if (!this.clients.remove(ws)) return;
    if (this.clients.size === 0) {
      this.graceAt = this.ports.now() + this.cfg.graceMs;
      this.guarded("relay.schedule", this.schedule());
    }
  }

  private close(ws: W, code: number, reason: string): void {
    this.removeClient(ws);
    try {
      ws.close(code, reason);
    } catch {
      // already closed
    }
  }

  /** Send one frame; a failed send closes only that socket. */
  private send(ws: W, text: string): boolean {
    try {
      ws.send(text);
      this.stats.sends++;
      return true;
    } catch (e) {
      this.ports.log.warn("relay.send failed; closing that client", this.instId, String(e));
      this.close(ws, CLOSE.sendFailed, "send failed");
      return false;
    }
  }

  /**
   * Send a data message through the client's flow control (`seq`: the book's seq, for the in-flight window and
   * the staleness bound; `catchUp`: the latest book owed to a pending client on its ack).
   */
  private deliver(ws: W, c: Client, text: string, seq: number | null, catchUp = false, now = this.ports.now()): void {
    switch (admit(c.flow, text.length, seq, now, this.cfg.clientBudgetBytes, this.bound, catchUp)) {
      case "send":
        if (!this.send(ws, text)) c.flow.unackedBytes -= text.length;
        return;
      case "conflate":
        this.stats.conflated++;
        return;
      case "stale":
        this.stats.staleSkipped++;
        this.send(ws, laggingMessage(this.instId ?? "", clientLag(c.flow, now), this.bound.maxStalenessMs, now));
        return;
      case "pause":
        this.stats.budgetPaused++;
        this.send(ws, ACK_REQUIRED);
        return;
      case "skip":
        return;
    }
  }

  private onAck(ws: W, c: Client, seq: number): void {
    const pending = acknowledge(c.flow, seq, this.seq, (s) => this.sentAt.get(s));
    if (pending) {
      if (c.kind === "book" && this.book.synced) this.deliver(ws, c, this.bookText(c.depth), this.seq, true);
      const latest = c.kind === "prediction" ? this.prediction?.latestPrediction() : null;
      if (latest) this.deliver(ws, c, latest, null);
    }
    settleLag(c.flow, this.ports.now(), this.bound);
  }

  /** Status and errors go to everyone (small and rare); data goes through each client's flow control. */
  private broadcast(text: string, kind?: ClientKind): void {
    const now = this.ports.now();
    // Live iteration (no copy per message): a client closed on a failed send is deleted from the Map, which JS
    // iteration tolerates (it is simply not visited again).
    for (const [ws, c] of this.clients) {
      if (kind === undefined) this.send(ws, text);
      else if (c.kind === kind) this.deliver(ws, c, text, null, false, now);
    }
    this.closeStalled();
  }

  /**
   * Close clients that stayed paused by their budget for clientStallMs (4008), or beyond the staleness bound for
   * lagCloseMs (4009); checked at most once a second.
   */
  private closeStalled(): void {
    const now = this.ports.now();
    if (now - this.lastStallSweep < STALL_SWEEP_MS) return;
    this.lastStallSweep = now;
    for (const [ws, c] of this.clients.entries()) {
      if (isStalled(c.flow, now, this.cfg.clientStallMs)) {
        this.stats.stalledClosed++;
        this.close(ws, CLOSE.notReading, "not reading: no ack after the send budget ran out");
      } else if (isLagClosed(c.flow, now, this.bound)) {
        this.stats.lagClosed++;
        this.close(
          ws,
          CLOSE.lagging,
          `lagging: beyond ${this.bound.maxStalenessMs} ms for ${this.bound.lagCloseMs} ms`,
        );
      }
    }
  }

  // ---- book fan-out and prediction -----------------------------------------------------------------------------

  private bookText(depth: number): string {
    return this.books.get(this.book, this.seq, depth, this.checksum);
  }

  private broadcastBook(): void {
    this.dirty = false;
    this.seq++;
    const now = this.ports.now();
    this.lastBroadcastAt = now;
    this.sentAt.record(this.seq, now);
    this.checksum = bookChecksum(this.book); // cached: free when the update was just verified
    this.stats.broadcasts++;
    // The hot path: one clock read and no copy of the client table per book.
    for (const [ws, c] of this.clients) {
      if (c.kind === "book") this.deliver(ws, c, this.bookText(c.depth), this.seq, false, now);
    }
    this.closeStalled();
  }

  /**
   * A book change was applied. Normally it is broadcast at once. When the relay is behind the exchange (it gets
   * less CPU than serializing and sending every message needs), it still applies every message but broadcasts
   * only the latest state, at most once per coalesceIntervalMs, so its lag stays bounded instead of growing with
   * the inbound queue; a trailing flush sends the last change.
   */
  private onBookChanged(): void {
    const now = this.ports.now();
    this.stats.relayLagMs = this.lag.observe(now, this.book.ts);
    if (this.stats.relayLagMs <= this.cfg.coalesceLagMs || now - this.lastBroadcastAt >= this.cfg.coalesceIntervalMs) {
      this.broadcastBook();
      return;
    }
    this.stats.coalesced++;
    this.dirty = true;
    if (this.flushArmed) return;
    this.flushArmed = true;
    this.ports.defer(this.cfg.coalesceIntervalMs, () =>
      guard(this.ports.log, "relay.flush", this.instId, () => {
        this.flushArmed = false;
        if (this.dirty && this.book.synced) this.broadcastBook();
      }),
    );
  }

  private predict(): void {
    if (!this.prediction) return;
    const out = this.prediction.onBook(this.book);
    if (out.score) {
      this.stats.scores++;
      this.broadcast(out.score, "prediction");
    }
    if (out.prediction) {
      this.guarded(
        "relay.prediction",
        out.prediction.then((s) => {
          if (!s) return;
          this.stats.predictions++;
          this.broadcast(s, "prediction");
        }),
      );
    }
  }

  // ---- upstream -------------------------------------------------------------------------------------------------

  private shownState(): { state: RelayStats["state"]; reason: string | null } {
    const p = this.session.phase;
    if (p.tag === "idle") return { state: "idle", reason: p.reason };
    if (p.tag === "refused") return { state: "idle", reason: p.reason };
    return S.shownOf(p);
  }

  private statusText(): string {
    const s = S.shownOf(this.session.phase);
    return statusMessage(this.instId ?? "", s.state, s.reason, this.ports.now());
  }

  /** Enter a phase; when what clients see changes, tell them (and the Directory). */
  private enter(next: S.Phase): void {
    const before = this.shownState();
    this.session.phase = next;
    const after = this.shownState();
    if (before.state === after.state && before.reason === after.reason) return;
    if (after.state === "live") this.stats.liveSince = this.ports.now();
    this.report();
    this.ports.log.info(`relay ${this.instId} ${after.state}${after.reason ? `: ${after.reason}` : ""}`);
    if (after.state !== "idle") this.broadcast(this.statusText());
  }

  /** Tell the Directory (for GET /status); a failure only costs a stale listing. */
  private report(): void {
    if (!this.instId) return;
    this.ports.report({
      instId: this.instId,
      state: this.shownState().state,
      clients: this.clients.size,
      at: this.ports.now(),
    });
  }

  private async openUpstream(): Promise<void> {
    const from = this.session.phase;
    if (!this.instId || from.tag === "connecting" || S.linkOf(from)) return;
    this.session.phase = { tag: "connecting", shown: S.shownOf(from) }; // guards re-entry while we wait
    // Queue for one of OKX's 3-per-second connection slots (shared by every relay through the Directory).
    const reserve = this.ports.reserveConnectSlot;
    if (reserve && (this.slotAt === null || this.ports.now() < this.slotAt - ALARM_SLACK_MS)) {
      try {
        this.slotAt = await reserve();
      } catch (e) {
        this.ports.log.warn("relay.reserveConnectSlot", String(e));
        this.slotAt = null;
      }
      if (this.slotAt !== null && this.slotAt > this.ports.now() + ALARM_SLACK_MS) {
        this.session.phase = S.toWaitingSlot(from, this.slotAt);
        await this.schedule();
        return;
      }
    }
    this.slotAt = null;
    this.enter(S.toConnecting(from));
    try {
      let socket: Upstream | null = null;
      socket = await this.ports.connect(this.cfg.okxWsUrl, {
        onMessage: (text) =>
          guard(this.ports.log, "relay.upstream.onMessage", this.instId, () => {
            if (this.currentSocket() === socket) this.onUpstreamMessage(text);
          }),
        onClose: (code, reason) =>
          guard(this.ports.log, "relay.upstream.onClose", this.instId, () => {
            if (this.currentSocket() === socket) this.onUpstreamClosed(`closed ${code}${reason ? ` ${reason}` : ""}`);
          }),
      });
      if (this.clients.size === 0) {
        socket.close(1000, "no clients");
        this.enter(S.toIdle(null));
        return;
      }
      this.book = createBook(this.instId);
      this.enter(S.toSubscribing(socket, this.ports.now(), this.timing));
      this.subscribe(socket, ["books", "trades"]);
    } catch (e) {
      this.stats.connectFailures++;
      this.onUpstreamClosed(`connect failed: ${e instanceof Error ? e.message : String(e)}`);
    }
    await this.schedule();
  }

  private currentSocket(): Upstream | null {
    return S.linkOf(this.session.phase)?.socket ?? null;
  }

  /** Subscribe the book (and, on a new socket, the trades the features use: one socket carries both). */
  private subscribe(socket: Upstream, channels: readonly OkxChannel[]): void {
    this.book = createBook(this.instId!);
    this.sendUpstream(socket, okxRequest("subscribe", this.instId!, channels));
  }

  private upstreamSend(text: string): void {
    const socket = this.currentSocket();
    if (socket) this.sendUpstream(socket, text);
  }

  private sendUpstream(socket: Upstream, text: string): void {
    try {
      socket.send(text);
    } catch (e) {
      this.onUpstreamClosed(`send failed: ${String(e)}`);
    }
  }

  private count(f: RelayFault): void {
    this.stats.faults[f]++;
  }

  private onUpstreamMessage(text: string): void {
    const now = this.ports.now();
    this.session.phase = S.onReceive(this.session.phase, now);
    this.stats.lastUpstreamAt = now;
    this.stats.upstreamMessages++;
    let m: OkxMessage;
    try {
      m = parseOkxMessage(text);
    } catch (e) {
      if (!(e instanceof OkxProtocolError)) throw e;
      if (e instanceof OkxTradesError) {
        // A bad trades push costs the features some trades, never the book.
        this.stats.badTrades++;
        this.ports.log.warn("relay trades", this.instId, e.message);
        return;
      }
      this.count("malformed");
      this.resync("malformed", e.message);
      return;
    }
    switch (m.kind) {
      case "books":
        this.onBooks(m);
        return;
      case "trades":
        if (m.arg.instId === this.instId) {
          this.stats.tradeMessages++;
          this.stats.badTrades += this.prediction?.onTrades(m.data) ?? 0;
        }
        return;
      case "error":
        this.onUpstreamError(m.code, m.msg);
        return;
      case "notice":
        this.count("notice");
        if (m.code === NOTICE_SERVICE_UPGRADE) this.reconnect(`notice ${m.code}: ${m.msg}`, true);
        else this.ports.log.warn("relay notice", this.instId, m.code, m.msg);
        return;
      default:
        return; // pong, acks, other channels
    }
  }

  private onBooks(m: Extract<OkxMessage, { kind: "books" }>): void {
    if (m.arg.instId !== this.instId) return;
    this.stats.bookMessages++;
    if (!this.book.synced && m.action === "update") return; // resyncing: wait for the snapshot
    const r = applyBook(this.book, m.action, m.data, BOOK_APPLY);
    if (!r.ok) {
      this.count(r.fault);
      this.resync(r.fault, r.detail);
      return;
    }
    const link = S.linkOf(this.session.phase);
    if (m.action === "snapshot" && link) this.enter(S.toLive(this.session, link, this.ports.now()));
    this.stats.seqId = this.book.seqId;
    this.stats.ts = this.book.ts;
    if (r.changed) {
      this.history?.record(this.book);
      this.onBookChanged();
      this.predict();
    }
  }

  private onUpstreamError(code: string, msg: string): void {
    this.count("upstream-error");
    this.ports.log.warn("relay upstream error", this.instId, code, msg);
    // 60018: channel/instId doesn't exist. Tell clients, close them, and do not reconnect for a while:
    // retrying an unknown instrument would only hammer OKX's connection limit.
    if (code === "60018" || /doesn't exist/i.test(msg)) {
      const reason = `OKX does not know instrument ${this.instId}: ${msg}`;
      const text = errorMessage("unknown_instrument", reason, true);
      for (const [ws] of this.clients.entries()) {
        this.send(ws, text);
        this.close(ws, CLOSE.unknownInstrument, "unknown instrument");
      }
      this.dropBook();
      this.leaveLink(S.toRefused(reason, this.ports.now(), this.cfg.invalidInstrumentMs), "unknown instrument");
      return;
    }
    this.resync("upstream-error", `${code} ${msg}`);
  }

  /** Drop the book and get a fresh snapshot: resubscribe on the same socket, or reconnect if faults repeat. */
  private resync(fault: string, detail: string): void {
    this.stats.resyncs++;
    this.ports.log.warn(`relay ${this.instId} resync (${fault}): ${detail}`);
    this.dropBook();
    const link = S.linkOf(this.session.phase);
    const next = link ? S.toResyncing(this.session, link, fault, this.ports.now(), this.timing) : null;
    if (!link || !next) {
      this.reconnect(`${fault}: repeated faults`);
      return;
    }
    this.enter(next);
    // Only the book is resubscribed: the trades subscription is unaffected by a book fault.
    this.sendUpstream(link.socket, okxRequest("unsubscribe", this.instId!, ["books"]));
    this.subscribe(link.socket, ["books"]);
    this.guarded("relay.schedule", this.schedule());
  }

  /** Close the upstream and open a new one (immediately, or after backoff). */
  private reconnect(reason: string, immediately = false): void {
    const socket = this.currentSocket();
    this.stats.reconnects++;
    this.dropBook();
    const shown: S.Shown = { state: "resyncing", reason };
    if (immediately) this.enter(S.toRetryNow(shown, this.ports.now()));
    else this.backoff(shown);
    socket?.close(1000, "reconnect"); // after the transition: its close event no longer matches the phase's link
    if (immediately) this.guarded("relay.openUpstream", this.openUpstream());
  }

  /** The socket closed (or never opened): back off and retry while clients remain. */
  private onUpstreamClosed(reason: string): void {
    this.dropBook();
    if (this.clients.size === 0) this.enter(S.toIdle(reason));
    else this.backoff({ state: "down", reason });
  }

  private backoff(shown: S.Shown): void {
    const delay = backoffDelay(this.session.attempt, this.cfg.backoffBaseMs, this.cfg.backoffMaxMs, this.ports.random);
    this.enter(S.toBackoff(this.session, shown, this.ports.now(), delay));
    this.guarded("relay.schedule", this.schedule());
  }

  /** The book is no longer trusted: clear it and restart the feature windows (no forecast spans a resync). */
  private dropBook(): void {
    this.book = createBook(this.instId ?? "");
    this.dirty = false;
    this.lag.reset();
    this.prediction?.reset();
  }

  /** Enter `next` (a phase without a link), then close the socket the previous phase held. */
  private leaveLink(next: S.Phase, reason: string): void {
    const socket = this.currentSocket();
    this.enter(next);
    socket?.close(1000, reason);
  }

  private closeUpstream(reason: string): void {
    this.dropBook();
    this.leaveLink(S.toIdle(reason), reason);
  }

  // ---- timers ---------------------------------------------------------------------------------------------------

  private async schedule(): Promise<void> {
    await this.alarm.arm([this.graceAt, S.phaseDeadline(this.session.phase, this.timing)]);
  }

  /** Follow a promise we do not await: a rejection is logged with its name, never unhandled. */
  private guarded(name: string, p: Promise<unknown>): void {
    p.catch((e: unknown) => this.ports.log.error(name, this.instId, e));
  }
}
