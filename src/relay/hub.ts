/**
 * The client half of a fan-out object: its client sockets (clients.ts), each one's flow control (flow.ts) and
 * the counters of what was sent. The relay holds one for its own (direct) clients and every fan-out shard holds
 * one for its clients, so both apply exactly the same rules: the in-flight window, the send budget, the staleness
 * bound, `ack_required`, `lagging`, and the 4008/4009 closes.
 *
 * What the hub sends comes from a `HubFeed`: the relay's feed is its own book and forecasts; a shard's feed is
 * what the relay published to it over the shard link.
 */
import { ACK_REQUIRED, badMessage, CLOSE, laggingMessage, MAX_BAD_MESSAGES, parseClientMessage } from "../protocol.js";
import { ClientTable, type Attachment, type Client, type ClientSocket } from "./clients.js";
import { acknowledge, admit, clientLag, isLagClosed, isStalled, settleLag, type StalenessBound } from "./flow.js";
import type { Log } from "./guard.js";

/** The data a hub hands out: the current book per depth and the latest forecasts. */
export interface HubFeed {
  /** The current book message at `depth`, or null while no book is trusted (or none arrived yet). */
  bookText(depth: number): string | null;
  /** Relay seq of the current book (0 before the first). */
  readonly seq: number;
  /** What a new prediction client gets at once: the latest forecast and score. */
  predictionGreeting(): readonly string[];
  /** The latest forecast alone (what a conflated prediction client gets on its next ack). */
  latestPrediction(): string | null;
  /** The object's broadcast pacing (its Coalescer). */
  readonly pacing: Pacing;
}

/** What the hub reads of its object's broadcast pacing (implemented by coalescer.ts). */
export interface Pacing {
  /** The object's lag behind the exchange now, ms (0 while keeping up): a book it sends is at least this old. */
  readonly lagMs: number;
  /**
   * True while the object coalesces (it is behind): the latest book owed to a conflated client on its ack then goes
   * out with the next coalesced broadcast instead of at once, so acks cannot add sends beyond the pace the object
   * can afford (measured at 2,000 clients: catch-ups and notices were over half of all frames).
   */
  readonly coalescing: boolean;
  /** Make sure a broadcast comes within the current interval even if the book does not change. */
  poke(): void;
}

/** Flow settings of a hub (a subset of RelayConfig). */
export interface HubConfig extends StalenessBound {
  readonly clientBudgetBytes: number;
  readonly clientStallMs: number;
}

/** What a hub counts (part of RelayStats, and of each shard's stats). */
export interface HubCounters {
  sends: number;
  conflated: number;
  budgetPaused: number;
  stalledClosed: number;
  staleSkipped: number;
  lagClosed: number;
}

/** Lag of acking book clients: the age of the oldest book each has not acknowledged. */
export interface ClientLagSummary {
  measured: number;
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
  lagging: number;
}

/** Clients closed for not reading / lagging are looked for at most this often. */
const STALL_SWEEP_MS = 1000;

/** Zeroed hub counters. */
export function createHubCounters(): HubCounters {
  return { sends: 0, conflated: 0, budgetPaused: 0, stalledClosed: 0, staleSkipped: 0, lagClosed: 0 };
}

/** Percentiles of sorted lags (nearest rank), the summary /status reports. */
export function summarizeLags(sortedLags: readonly number[], lagging: number): ClientLagSummary {
  const q = (p: number) => (sortedLags.length ? sortedLags[Math.max(0, Math.ceil(p * sortedLags.length) - 1)]! : null);
  return { measured: sortedLags.length, p50Ms: q(0.5), p99Ms: q(0.99), maxMs: sortedLags.at(-1) ?? null, lagging };
}

/** The client sockets of one fan-out object and their flow control. */
export class ClientHub<W extends ClientSocket = ClientSocket> {
  readonly clients = new ClientTable<W>();
  readonly counters: HubCounters = createHubCounters();
  private lastStallSweep = 0;
  /** Book clients owed the latest book with the next broadcast (their ack came while this object was behind). */
  private readonly owed = new Set<W>();

  constructor(
    private readonly cfg: HubConfig,
    private readonly ports: { readonly now: () => number; readonly log: Log & { warn(...a: unknown[]): void } },
    private readonly feed: HubFeed,
    /** Label for logs and the instId of `lagging` messages. */
    private readonly label: () => string | null,
    /** Called after a client is removed (the owner starts its grace timer when none are left). */
    private readonly onRemoved: () => void,
  ) {}

  get size(): number {
    return this.clients.size;
  }

  /** Register an accepted socket (its attachment already stored on it). */
  add(ws: W, a: Attachment): Client {
    return this.clients.add(ws, a);
  }

  /**
   * Greet a new client with the current data: the book at its depth (sent as the current seq, so its staleness
   * counts from now), or the latest forecast and score.
   */
  greet(ws: W, c: Client): void {
    if (c.kind === "book") {
      const text = this.feed.bookText(c.depth);
      if (text !== null) this.deliver(ws, c, text, this.feed.seq, true);
    } else {
      for (const s of this.feed.predictionGreeting()) this.deliver(ws, c, s, null);
    }
  }

  /** Greet the book clients that have not had a book yet (their depth's book just became available). */
  greetWaiting(): void {
    for (const [ws, c] of this.clients) if (c.kind === "book" && c.flow.lastSentSeq === null) this.greet(ws, c);
  }

  /** A client frame: acks drive flow control; anything else is answered `bad_message`, or closes the socket. */
  onMessage(ws: W, frame: string | ArrayBuffer): void {
    const c = this.clients.get(ws);
    if (!c) return;
    const r = parseClientMessage(frame);
    if (r.ok) {
      // An ack restarts the client's send budget, so it must be for a book this connection was sent: acking a seq
      // it was never sent (the blind lie of a client that stopped reading) would escape the budget forever.
      const sent = c.flow.lastSentSeq;
      if (c.kind === "book" && (sent === null || r.message.seq > sent)) {
        this.bad(ws, c, `ack for seq ${r.message.seq}, but the last book sent on this connection is ${sent ?? "none"}`);
        return;
      }
      this.onAck(ws, c, r.message.seq);
      return;
    }
    if (r.close !== null) {
      this.close(ws, r.close, r.reason);
      return;
    }
    this.bad(ws, c, r.reason);
  }

  /** An invalid client message: answered `bad_message`; one too many closes the socket (1008). */
  private bad(ws: W, c: Client, reason: string): void {
    c.badMessages++;
    if (c.badMessages > MAX_BAD_MESSAGES) this.close(ws, CLOSE.badClient, "too many invalid messages");
    else this.send(ws, badMessage(reason));
  }

  /** Forget a client (closed or errored); false when it was not attached. */
  remove(ws: W): boolean {
    if (!this.clients.remove(ws)) return false;
    this.owed.delete(ws);
    this.onRemoved();
    return true;
  }

  /** Close one client with `code`. */
  close(ws: W, code: number, reason: string): void {
    this.remove(ws);
    try {
      ws.close(code, reason);
    } catch {
      // already closed
    }
  }

  /** Close every client (e.g. the instrument is unknown), after sending each `text` if given. */
  closeAll(code: number, reason: string, text: string | null = null): void {
    for (const [ws] of this.clients.entries()) {
      if (text !== null) this.send(ws, text);
      this.close(ws, code, reason);
    }
  }

  /** Send one frame; a failed send closes only that socket. */
  send(ws: W, text: string): boolean {
    try {
      ws.send(text);
      this.counters.sends++;
      return true;
    } catch (e) {
      this.ports.log.warn("send failed; closing that client", this.label(), String(e));
      this.close(ws, CLOSE.sendFailed, "send failed");
      return false;
    }
  }

  /** Status and errors to every client (small and rare: no flow control). */
  broadcastAll(text: string): void {
    for (const [ws] of this.clients) this.send(ws, text);
  }

  /**
   * This object is behind the exchange by `lagMs` (beyond the staleness bound): tell every book client, since
   * every book it sends is at least that old (small and rare: once per episode).
   */
  tellBehind(lagMs: number, now: number): void {
    const text = laggingMessage(this.label() ?? "", lagMs, this.cfg.maxStalenessMs, now, "relay");
    for (const [ws, c] of this.clients) if (c.kind === "book") this.send(ws, text);
  }

  /** Forecasts and scores to the prediction clients, through each one's flow control. */
  broadcastPrediction(text: string): void {
    const now = this.ports.now();
    for (const [ws, c] of this.clients) if (c.kind === "prediction") this.deliver(ws, c, text, null, false, now);
    this.closeStalled(now);
  }

  /**
   * The book changed (feed.seq is the new seq): every book client gets the message at its depth, through its
   * flow control. The hot path: one clock read and no copy of the client table per book (live Map iteration
   * tolerates a client deleted on a failed send: it is simply not visited again).
   */
  broadcastBook(now: number): void {
    const seq = this.feed.seq;
    const owed = this.owed.size > 0;
    const currentAt = now - this.feed.pacing.lagMs; // once per book, not per client
    for (const [ws, c] of this.clients) {
      if (c.kind !== "book") continue;
      const text = this.feed.bookText(c.depth);
      if (text !== null) this.deliver(ws, c, text, seq, owed && this.owed.has(ws), now, currentAt);
    }
    this.owed.clear();
    this.closeStalled(now);
  }

  /** Start every client's flow afresh (a shard whose relay restarted: the relay's seq numbering began again). */
  resetFlows(): void {
    for (const [, c] of this.clients) this.clients.resetFlow(c);
  }

  /** Lag of acking book clients (for /status). */
  lagSummary(now = this.ports.now()): ClientLagSummary {
    return summarizeLags(...this.lags(now));
  }

  /** Sorted lags of acking book clients and how many are beyond the bound (shards merge these for /status). */
  lags(now = this.ports.now()): [number[], number] {
    const lags: number[] = [];
    let lagging = 0;
    for (const [, c] of this.clients) {
      if (c.kind !== "book" || c.flow.acked === null) continue;
      lags.push(clientLag(c.flow, now));
      if (c.flow.lagSince !== null) lagging++;
    }
    return [lags.sort((a, b) => a - b), lagging];
  }

  /**
   * Send a data message through the client's flow control (`seq`: the book's seq, for the in-flight window and
   * the staleness bound; `catchUp`: the latest book owed to a pending client on its ack; `currentAt`: when the book
   * was current, i.e. now minus this object's lag).
   */
  private deliver(
    ws: W,
    c: Client,
    text: string,
    seq: number | null,
    catchUp = false,
    now = this.ports.now(),
    currentAt = seq === null ? now : now - this.feed.pacing.lagMs,
  ): void {
    switch (admit(c.flow, text.length, seq, now, this.cfg.clientBudgetBytes, this.cfg, catchUp, currentAt)) {
      case "send":
        if (!this.send(ws, text)) c.flow.unackedBytes -= text.length;
        return;
      case "conflate":
        this.counters.conflated++;
        return;
      case "stale":
        this.counters.staleSkipped++;
        this.send(ws, laggingMessage(this.label() ?? "", clientLag(c.flow, now), this.cfg.maxStalenessMs, now));
        return;
      case "pause":
        this.counters.budgetPaused++;
        this.send(ws, ACK_REQUIRED);
        return;
      case "skip":
        return;
    }
  }

  private onAck(ws: W, c: Client, seq: number): void {
    const pending = acknowledge(c.flow, seq, this.feed.seq);
    if (pending) {
      if (c.kind === "book" && this.feed.pacing.coalescing) {
        this.owed.add(ws);
        this.feed.pacing.poke();
      } else if (c.kind === "book") {
        const text = this.feed.bookText(c.depth);
        if (text !== null) this.deliver(ws, c, text, this.feed.seq, true);
      } else {
        const latest = this.feed.latestPrediction();
        if (latest !== null) this.deliver(ws, c, latest, null);
      }
    }
    settleLag(c.flow, this.ports.now(), this.cfg);
  }

  /**
   * Close clients that stayed paused by their budget for clientStallMs (4008), or beyond the staleness bound for
   * lagCloseMs (4009); checked at most once a second.
   */
  private closeStalled(now: number): void {
    if (now - this.lastStallSweep < STALL_SWEEP_MS) return;
    this.lastStallSweep = now;
    for (const [ws, c] of this.clients.entries()) {
      if (isStalled(c.flow, now, this.cfg.clientStallMs)) {
        this.counters.stalledClosed++;
        this.close(ws, CLOSE.notReading, "not reading: no ack after the send budget ran out");
      } else if (isLagClosed(c.flow, now, this.cfg)) {
        this.counters.lagClosed++;
        this.close(ws, CLOSE.lagging, `lagging: beyond ${this.cfg.maxStalenessMs} ms for ${this.cfg.lagCloseMs} ms`);
      }
    }
  }
}
