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
import { CLOSE, errorMessage, statusMessage } from "../protocol.js";
import { backoffDelay } from "./backoff.js";
import type { Attachment, ClientKind, ClientSocket } from "./clients.js";
import type { RelayConfig } from "./config.js";
import { BookCache } from "./fanout.js";
import { ClientHub, type HubFeed } from "./hub.js";
import { Coalescer } from "./coalescer.js";
import { guard, type Log } from "./guard.js";
import { allFrame, fatalFrame, forecastFrame, parseWant, scoreFrame } from "./link.js";
import { PredictionPart, type PredictorSource } from "./prediction.js";
import { ALARM_SLACK_MS, AlarmScheduler } from "./scheduler.js";
import * as S from "./session.js";
import { ShardSet, type LinkAttachment, type LinkSocket, type Route } from "./shards.js";
import { createStats, type RelayFault, type RelayStats } from "./stats.js";
import type { Upstream, UpstreamConnector } from "./upstream.js";
import type { OkxChannel } from "../okx/protocol.js";

/** What the Directory is told on every state change (for GET /status). */
export interface RelayReport {
  instId: string;
  state: string;
  /** Clients on the relay and on its shards. */
  clients: number;
  /** Shard links attached (0 in one-shard mode). */
  shards: number;
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

/** A socket the relay holds: a client, or a shard link (both are the runtime's hibernatable WebSockets). */
export type RelaySocket = ClientSocket & LinkSocket;

export class RelayCore<W extends RelaySocket = RelaySocket> {
  private instId: string | null = null;
  private book: Book = createBook("");
  /** The relay's own (direct) clients. */
  private readonly hub: ClientHub<W>;
  /** Fan-out shard links (none in one-shard mode). */
  private readonly shards: ShardSet<W>;
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
  /** Broadcast pacing by the relay's lag behind the exchange. */
  private readonly coalescer: Coalescer;

  constructor(
    private readonly cfg: RelayConfig,
    private readonly ports: RelayPorts,
  ) {
    this.timing = cfg;
    this.alarm = new AlarmScheduler(ports.setAlarm, ports.now);
    this.coalescer = new Coalescer(cfg, {
      now: ports.now,
      defer: (ms, fn) => ports.defer(ms, () => guard(ports.log, "relay.flush", this.instId, fn)),
      broadcast: (now) => {
        if (!this.book.synced) return false;
        this.broadcastBook(now);
        return true;
      },
      behind: (lagMs, now) => {
        ports.log.warn(`relay behind the exchange by ${lagMs} ms; telling its clients`, this.instId);
        this.hub.tellBehind(lagMs, now);
      },
    });
    const core = this;
    const feed: HubFeed = {
      bookText: (depth) => (this.book.synced ? this.bookText(depth) : null),
      get seq() {
        return core.seq;
      },
      predictionGreeting: () => this.prediction?.latest() ?? [],
      latestPrediction: () => this.prediction?.latestPrediction() ?? null,
      pacing: this.coalescer,
    };
    this.hub = new ClientHub<W>(
      cfg,
      ports,
      feed,
      () => this.instId,
      () => this.onDetached(),
    );
    this.shards = new ShardSet<W>(cfg);
  }

  // ---- entry points (called by the Durable Object) --------------------------------------------------------------

  /** After hibernation or eviction: rebuild the client table from the runtime's sockets. */
  restore(sockets: Iterable<W>, links: Iterable<W> = []): void {
    const instId = this.hub.clients.restore(sockets);
    this.shards.restore(links);
    if (instId) this.setInstrument(instId);
  }

  /** A label for logs. */
  get label(): string | null {
    return this.instId;
  }

  /** The attachment for a new client socket; store it on the socket, accept it, then call `onOpen`. */
  newAttachment(instId: string, kind: ClientKind, depth: number): Attachment {
    if (this.instId === null) this.setInstrument(instId);
    return this.hub.clients.attachment(this.instId!, kind, depth);
  }

  /**
   * Where a new client goes: this relay (below the shard threshold, and whenever the instrument is refused, so
   * the relay itself tells the client) or one of its fan-out shards.
   */
  route(instId: string): Route {
    if (this.instId === null) this.setInstrument(instId);
    if (S.isRefused(this.session.phase, this.ports.now())) return { to: "direct" };
    return this.shards.route(this.hub.size, this.ports.now());
  }

  /** The attachment for a new shard link; store it on the socket, accept it, then call `onLinkOpen`. */
  newLinkAttachment(instId: string, shard: number): LinkAttachment {
    if (this.instId === null) this.setInstrument(instId);
    return this.shards.attachment(this.instId!, shard);
  }

  /** A shard linked: greet it with the status (its want brings the book) and make sure the upstream runs. */
  onLinkOpen(ws: W, a: LinkAttachment): void {
    this.shards.attach(ws, a);
    this.graceAt = null;
    const now = this.ports.now();
    const p = this.session.phase;
    const before = S.shownOf(p);
    if (S.wantsConnect(p, now) && !S.isRefused(p, now)) this.guarded("relay.openUpstream", this.openUpstream());
    const after = S.shownOf(this.session.phase);
    if (before.state === after.state && before.reason === after.reason) this.sendLink(ws, allFrame(this.statusText()));
    this.report();
  }

  /** A client socket was accepted: greet it (status, current book or forecast) and make sure the upstream runs. */
  onOpen(ws: W, a: Attachment): void {
    const c = this.hub.add(ws, a);
    this.graceAt = null;
    const now = this.ports.now();
    const p = this.session.phase;
    if (S.isRefused(p, now)) {
      this.hub.send(ws, errorMessage("unknown_instrument", p.reason, true));
      this.hub.close(ws, CLOSE.unknownInstrument, "unknown instrument");
      return;
    }
    // Starting the upstream broadcasts the new status to every client, this one included; otherwise tell it now.
    const before = S.shownOf(p);
    if (S.wantsConnect(p, now)) this.guarded("relay.openUpstream", this.openUpstream());
    const after = S.shownOf(this.session.phase);
    if (before.state === after.state && before.reason === after.reason) this.hub.send(ws, this.statusText());
    this.hub.greet(ws, c);
  }

  /** A frame from a client (acks: flow control) or from a shard link (its want). */
  onMessage(ws: W, frame: string | ArrayBuffer): void {
    if (this.shards.has(ws)) this.onLinkMessage(ws, frame);
    else this.hub.onMessage(ws, frame);
  }

  /** A client or a shard link closed (or errored): forget it. */
  onClose(ws: W): void {
    if (this.shards.detach(ws)) {
      this.report();
      this.onDetached();
    } else {
      this.hub.remove(ws);
    }
  }

  /** The alarm fired: run every due timer, then re-arm for the next deadline. */
  async onAlarm(): Promise<void> {
    this.alarm.fired();
    const now = this.ports.now() + ALARM_SLACK_MS;
    if (this.graceAt !== null && now >= this.graceAt) {
      this.graceAt = null;
      if (this.attached === 0) this.closeUpstream("no clients");
    }
    const p = this.session.phase;
    const due = S.dueTimer(p, now, this.timing);
    switch (due?.kind) {
      case "retry":
        if (this.attached > 0) await this.openUpstream();
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
        if (S.wantsConnect(p, now) && this.attached > 0) await this.openUpstream();
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
    const n = this.hub.clients.counts();
    const shown = this.shownState();
    return {
      ...this.stats,
      ...this.hub.counters,
      instId: this.instId,
      state: shown.state,
      stateReason: shown.reason,
      clients: this.hub.size,
      bookClients: n.book,
      predictionClients: n.prediction,
      relayLagMs: this.coalescer.lagMs,
      coalesceIntervalMs: this.coalescer.intervalMs,
      model: this.prediction?.model ?? null,
      bookLevels: { bids: this.book.bids.length, asks: this.book.asks.length },
      clientLag: this.hub.lagSummary(),
      shards: this.shards.summary(),
    };
  }

  /** Sorted lags of the relay's own acking book clients (GET /status merges them with the shards'). */
  clientLags(): number[] {
    return this.hub.lags()[0];
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

  /** Clients on the relay plus shard links: the upstream runs while any is attached. */
  private get attached(): number {
    return this.hub.size + this.shards.size;
  }

  /** A client or a link left: with nothing attached, start the grace timer that closes the upstream. */
  private onDetached(): void {
    if (this.attached > 0) return;
    this.graceAt = this.ports.now() + this.cfg.graceMs;
    this.guarded("relay.schedule", this.schedule());
  }

  /** A shard's want: record it and greet what it newly needs (the current book at new depths, forecasts). */
  private onLinkMessage(ws: W, frame: string | ArrayBuffer): void {
    const r = parseWant(frame);
    if (!r.ok) {
      this.ports.log.warn("relay.link: bad frame from a shard", this.instId, r.error);
      return;
    }
    const news = this.shards.onWant(ws, r.value);
    if (!news) return;
    if (news.newDepths.length > 0 && this.book.synced) {
      const f = this.shards.bookFrameFor(ws, this.seq, this.book.ts, (d) => this.bookText(d));
      if (f !== null) this.sendLink(ws, f);
    }
    if (news.newPrediction) {
      const forecast = this.prediction?.latestPrediction();
      const score = this.prediction?.latestScore();
      if (forecast) this.sendLink(ws, forecastFrame(forecast));
      if (score) this.sendLink(ws, scoreFrame(score));
    }
  }

  /** Send one frame to a shard link; a failed send closes only that link (the shard relinks). */
  private readonly sendLink = (ws: W, frame: string): void => {
    try {
      ws.send(frame);
      this.stats.linkSends++;
    } catch (e) {
      this.ports.log.warn("relay.sendLink failed; closing that link", this.instId, String(e));
      if (this.shards.detach(ws)) this.onDetached();
      try {
        ws.close(CLOSE.sendFailed, "send failed");
      } catch {
        // already closed
      }
    }
  };

  /** Status and errors go to every client and every shard (small and rare). */
  private broadcast(text: string): void {
    this.hub.broadcastAll(text);
    this.shards.publish(allFrame(text), this.sendLink);
  }

  // ---- book fan-out and prediction -----------------------------------------------------------------------------

  private bookText(depth: number): string {
    return this.books.get(this.book, this.seq, depth, this.checksum);
  }

  private broadcastBook(now: number): void {
    this.seq++;
    this.checksum = bookChecksum(this.book); // cached: free when the update was just verified
    this.stats.broadcasts++;
    this.hub.broadcastBook(now);
    if (this.shards.size > 0) this.shards.publishBook(this.seq, this.book.ts, (d) => this.bookText(d), this.sendLink);
  }

  /**
   * A book change was applied. Normally it is broadcast at once. When the relay is behind the exchange (it gets
   * less CPU than serializing and sending every message needs), it still applies every message but broadcasts
   * only the latest state, at an interval that adapts to its lag (coalescer.ts), so the lag stays bounded instead
   * of growing with the inbound queue.
   */
  private onBookChanged(): void {
    if (this.coalescer.onChange(this.book.ts) === "held") this.stats.coalesced++;
  }

  private predict(): void {
    if (!this.prediction) return;
    const out = this.prediction.onBook(this.book);
    if (out.score) {
      this.stats.scores++;
      this.hub.broadcastPrediction(out.score);
      this.shards.publish(scoreFrame(out.score), this.sendLink, true);
    }
    if (out.prediction) {
      this.guarded(
        "relay.prediction",
        out.prediction.then((s) => {
          if (!s) return;
          this.stats.predictions++;
          this.hub.broadcastPrediction(s);
          this.shards.publish(forecastFrame(s), this.sendLink, true);
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
      clients: this.hub.size + this.shards.clients(),
      shards: this.shards.size,
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
      if (this.attached === 0) {
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
      this.hub.closeAll(CLOSE.unknownInstrument, "unknown instrument", text);
      this.shards.publish(fatalFrame(CLOSE.unknownInstrument, "unknown instrument", text), this.sendLink);
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
    if (this.attached === 0) this.enter(S.toIdle(reason));
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
    this.coalescer.reset();
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
