/**
 * `subscribeBook`: one instrument's order book from `GET /ws/okx`, kept up to date, every book checked against its
 * CRC32, acknowledged for the relay's flow control, over a link that reconnects with backoff.
 *
 * The relay sends the whole top-N book in every message (not deltas), so "keeping the book" is replacing it with
 * each verified message. The checksum covers the top 25 levels per side, so the SDK always asks for at least 25
 * and hands out the `depth` the caller asked for: every book it emits has been verified.
 */
import { CHECKSUM_DEPTH } from "../../../src/okx/checksum.js";
import {
  DEFAULT_DEPTH,
  MAX_DEPTH,
  type BookMessage,
  type ClientMessage,
  type ErrorMessage,
  type LaggingMessage,
  type ServerMessage,
  type StatusMessage,
} from "../../../src/protocol.js";
import { Emitter } from "./emitter.js";
import { Link, type LinkOptions, type LinkState } from "./link.js";
import { bookChecksum } from "./verify.js";

/** The subscription as a whole: the relay's upstream state, folded with this client's link and checksum. */
export type SubscriptionState = "connecting" | "live" | "resyncing" | "down";

export interface StateEvent {
  readonly state: SubscriptionState;
  /** Why (e.g. `checksum`, `gap`, `closed 1006`, `connection lost`, `checksum mismatch (client)`). */
  readonly reason?: string;
}

/**
 * A checksum mismatch. `client`: a book this client received does not hash to its `checksum` (the book is not
 * handed out). `relay`: the relay found OKX's own checksum wrong upstream and is resyncing (from its status).
 */
export interface ChecksumMismatch {
  readonly source: "client" | "relay";
  readonly instId: string;
  /** Relay message number of the rejected book (`client` only). */
  readonly seq: number | null;
  readonly expected: number | null;
  readonly computed: number | null;
  /** Date.now() when detected. */
  readonly at: number;
}

export interface StaleEvent {
  readonly instId: string;
  /** Exchange time of the book held, Unix ms. */
  readonly ts: number;
  /** now - ts when the bound was crossed (client clock minus exchange clock: includes their skew). */
  readonly ageMs: number;
  readonly boundMs: number;
}

export interface BookEvents {
  /** A verified book, `depth` levels per side at most. */
  book: BookMessage;
  state: StateEvent;
  /** The relay's report on its upstream OKX connection (raw). */
  status: StatusMessage;
  /** This client's own socket. */
  link: LinkState;
  mismatch: ChecksumMismatch;
  /** The book held is older than `staleAfterMs` (emitted once per crossing; a newer book clears it). */
  stale: StaleEvent;
  /**
   * The relay's own staleness bound: this client's oldest unacknowledged book is too old, so it gets no book until
   * it acks (manual mode: call `ack`), and is closed if it stays behind.
   */
  lagging: LaggingMessage;
  /** An error the server sent, or the server's 400 for a rejected subscription (`fatal`: the link stopped). */
  error: ErrorMessage;
}

export interface BookOptions extends LinkOptions {
  /** Levels per side handed out, 1..400 (default 25). At least 25 are requested so that every book verifies. */
  readonly depth?: number;
  /**
   * `auto` (default): each book is acknowledged once the `book` listeners returned. `manual`: call `ack(seq)`
   * when the book is really processed (e.g. drawn), so the relay's flow control follows the consumer.
   */
  readonly ack?: "auto" | "manual";
  /** Emit `stale` when the book held is older than this (now - ts; default 5,000 ms). */
  readonly staleAfterMs?: number;
  /** Reconnect after this many client-side checksum mismatches in a row (default 3). */
  readonly reconnectAfterMismatches?: number;
  /** fetch for the rejected-upgrade diagnosis (default: global fetch). */
  readonly fetch?: typeof fetch;
}

/** Counters since the subscription started. */
export interface BookStats {
  received: number;
  verified: number;
  mismatches: number;
  reconnects: number;
}

/** `ws://host` / `wss://host` from `http(s)://host`. */
export function wsBase(httpBase: string): string {
  return httpBase.replace(/^http/i, "ws").replace(/\/+$/, "");
}

export class BookSubscription extends Emitter<BookEvents> {
  readonly depth: number;
  /** Latest verified book, or null. */
  book: BookMessage | null = null;
  /** Latest relay status, or null before the first. */
  upstream: StatusMessage | null = null;
  state: StateEvent = { state: "connecting" };
  lastMismatch: ChecksumMismatch | null = null;
  stale = false;
  readonly stats: BookStats = { received: 0, verified: 0, mismatches: 0, reconnects: 0 };
  private readonly link: Link;
  private readonly wireDepth: number;
  private readonly staleAfterMs: number;
  private staleTimer: ReturnType<typeof setInterval> | undefined;
  private mismatchRun = 0;
  private lastAcked = -1;
  private opens = 0;
  private diagnosing = false;

  constructor(
    readonly instId: string,
    private readonly httpBase: string,
    private readonly opts: BookOptions = {},
  ) {
    super();
    const depth = opts.depth ?? DEFAULT_DEPTH;
    if (!Number.isInteger(depth) || depth < 1 || depth > MAX_DEPTH)
      throw new RangeError(`depth must be an integer from 1 to ${MAX_DEPTH}`);
    this.depth = depth;
    this.wireDepth = Math.max(depth, CHECKSUM_DEPTH);
    this.staleAfterMs = opts.staleAfterMs ?? 5_000;
    const url = `${wsBase(httpBase)}/ws/okx?instId=${encodeURIComponent(instId)}&depth=${this.wireDepth}`;
    this.link = new Link(url, opts, { onMessage: (d) => this.onFrame(d), onState: (s) => this.onLink(s) });
  }

  /** This client's socket state. */
  get linkState(): LinkState {
    return this.link.state;
  }

  /** Round trip of the last keepalive ping, ms. */
  get rttMs(): number | null {
    return this.link.rttMs;
  }

  /** now - ts of the book held (ms), or null without one. */
  ageMs(now = Date.now()): number | null {
    return this.book === null ? null : now - this.book.ts;
  }

  /** Acknowledge every book up to `seq` (manual mode; auto mode does it itself). */
  ack(seq: number): void {
    if (seq <= this.lastAcked) return;
    if (this.link.send(JSON.stringify({ op: "ack", seq } satisfies ClientMessage))) this.lastAcked = seq;
  }

  /** Skip the backoff, or start again after a fatal stop. */
  reconnect(): void {
    this.link.reconnectNow();
  }

  /** Close the socket for good. */
  close(): void {
    this.link.stop();
    clearInterval(this.staleTimer);
    this.staleTimer = undefined;
  }

  /** Open the socket (called by the client; idempotent). */
  start(): this {
    if (this.staleTimer !== undefined) return this;
    this.link.start();
    this.staleTimer = setInterval(() => this.checkStale(), Math.min(1_000, Math.max(50, this.staleAfterMs / 5)));
    return this;
  }

  private setState(state: SubscriptionState, reason?: string): void {
    if (state === this.state.state && reason === this.state.reason) return;
    this.state = reason === undefined ? { state } : { state, reason };
    this.emit("state", this.state);
  }

  private onLink(s: LinkState): void {
    if (s.kind === "open") {
      // A new socket (maybe a new relay instance): its seq numbers start afresh.
      this.lastAcked = -1;
      this.mismatchRun = 0;
      if (this.opens++ > 0) this.stats.reconnects++;
    }
    this.emit("link", s);
    switch (s.kind) {
      case "connecting":
        this.setState("connecting", s.attempt > 1 ? `attempt ${s.attempt}` : undefined);
        break;
      case "open":
        break; // the relay's status message follows at once
      case "reconnecting":
        this.setState("down", s.reason);
        if (s.handshakeFailed) void this.diagnoseRefusal();
        break;
      case "stopped":
        this.setState("down", s.reason);
        break;
    }
  }

  private onFrame(data: string): void {
    let m: ServerMessage;
    try {
      m = JSON.parse(data) as ServerMessage;
    } catch {
      return; // not ours to judge: the relay only sends JSON, a proxy may add noise
    }
    switch (m.type) {
      case "book":
        if (m.instId === this.instId) this.onBook(m);
        break;
      case "status":
        if (m.instId !== this.instId) break;
        this.upstream = m;
        this.emit("status", m);
        if (m.state === "resyncing" && m.reason === "checksum") {
          this.emitMismatch({
            source: "relay",
            instId: this.instId,
            seq: null,
            expected: null,
            computed: null,
            at: Date.now(),
          });
        }
        this.setState(m.state, m.reason);
        break;
      case "lagging":
        if (m.instId === this.instId) this.emit("lagging", m);
        break;
      case "error":
        if (m.fatal) this.link.markFatal(m.message || m.code);
        this.emit("error", m);
        break;
      default:
        break;
    }
  }

  private onBook(m: BookMessage): void {
    this.stats.received++;
    const computed = bookChecksum(m);
    if (computed !== m.checksum) {
      this.stats.mismatches++;
      this.mismatchRun++;
      // Acked all the same: it was processed (rejected), and a client that stops acking is paused by the relay.
      this.ack(m.seq);
      this.emitMismatch({
        source: "client",
        instId: this.instId,
        seq: m.seq,
        expected: m.checksum,
        computed,
        at: Date.now(),
      });
      this.setState("resyncing", "checksum mismatch (client)");
      if (this.mismatchRun >= (this.opts.reconnectAfterMismatches ?? 3)) {
        this.mismatchRun = 0;
        this.link.restart(`${this.opts.reconnectAfterMismatches ?? 3} checksum mismatches in a row`);
      }
      return;
    }
    this.mismatchRun = 0;
    this.stats.verified++;
    const book =
      m.bids.length > this.depth || m.asks.length > this.depth
        ? { ...m, bids: m.bids.slice(0, this.depth), asks: m.asks.slice(0, this.depth), depth: this.depth }
        : m;
    this.book = book;
    this.stale = false;
    if (this.upstream?.state === "live" || this.upstream === null) this.setState("live");
    this.emit("book", book);
    if ((this.opts.ack ?? "auto") === "auto") this.ack(m.seq);
  }

  private emitMismatch(ev: ChecksumMismatch): void {
    this.lastMismatch = ev;
    this.emit("mismatch", ev);
  }

  private checkStale(): void {
    const b = this.book;
    if (b === null || this.stale) return;
    const ageMs = Date.now() - b.ts;
    if (ageMs <= this.staleAfterMs) return;
    this.stale = true;
    this.emit("stale", { instId: this.instId, ts: b.ts, ageMs, boundMs: this.staleAfterMs });
  }

  /**
   * The upgrade was refused before the socket opened. Browsers and Node's WebSocket hide the HTTP answer of a
   * failed upgrade, so ask the same validation over HTTP (`/status?instId=` applies the WebSocket route's instId
   * rules, allow-list included): a 400 is final (an `error` event, the link stops); anything else (server down,
   * restarting) keeps the backoff going.
   */
  private async diagnoseRefusal(): Promise<void> {
    if (this.diagnosing) return;
    this.diagnosing = true;
    try {
      const f = this.opts.fetch ?? fetch;
      const res = await f(`${this.httpBase.replace(/\/+$/, "")}/status?instId=${encodeURIComponent(this.instId)}`, {
        headers: { accept: "application/json" },
      });
      if (res.status !== 400) return;
      const body = (await res.json().catch(() => null)) as { error?: { code?: string; message?: string } } | null;
      const err = {
        type: "error",
        code: body?.error?.code ?? "rejected",
        message: body?.error?.message ?? `the server rejects instrument ${this.instId}`,
        fatal: true,
      } satisfies ErrorMessage;
      this.link.fail(err.message);
      this.emit("error", err);
    } catch {
      // Server unreachable: that is what the reconnect backoff is for.
    } finally {
      this.diagnosing = false;
    }
  }
}
