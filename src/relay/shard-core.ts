/**
 * A fan-out shard as plain TypeScript: it holds up to RELAY_SHARD_CLIENTS client sockets of one instrument and
 * forwards what the relay publishes over the shard link (link.ts) to them, through the same per-client flow
 * control as the relay's own clients (hub.ts). It never parses or re-serializes a book: the relay serialized each
 * message once; the shard only slices the link frame.
 *
 * The link is a small state machine (`LinkPhase`, one function per transition): idle (no clients), linking,
 * linked, backoff. A lost link is never a silent gap: every client is told (`status` resyncing, "relay link lost")
 * at once, new clients get no book until the relay greets the new link with the current one, and the relay's
 * greeting status (`live`) tells clients when it is over.
 *
 * Runtime facts: the link is an outbound WebSocket to the relay object, so a linked shard stays in memory (it
 * cannot hibernate), like the relay with its OKX socket; the link closes `graceMs` after the last client leaves.
 * workerd answers the link's keepalive `ping` with the relay's auto-response, without waking the relay.
 */
import { statusMessage } from "../protocol.js";
import { backoffDelay } from "./backoff.js";
import type { Attachment, ClientSocket } from "./clients.js";
import type { RelayConfig } from "./config.js";
import { guard, type Log } from "./guard.js";
import { ClientHub, createHubCounters, type HubCounters, type HubFeed } from "./hub.js";
import { Coalescer } from "./coalescer.js";
import { MAX_WANT_ARRIVED, parseLinkFrame, wantMessage, type LinkFrame } from "./link.js";
import { ALARM_SLACK_MS, AlarmScheduler } from "./scheduler.js";
import type { Upstream, UpstreamHandlers } from "./upstream.js";

/** The shard link's phase. */
export type LinkPhase =
  | { readonly tag: "idle" }
  | { readonly tag: "linking"; readonly attempt: number }
  | { readonly tag: "linked"; readonly socket: Upstream; readonly since: number; readonly lastRxAt: number }
  | { readonly tag: "backoff"; readonly attempt: number; readonly retryAt: number; readonly reason: string };

/** Start linking (from idle or backoff). */
export function toLinking(p: LinkPhase): LinkPhase {
  return { tag: "linking", attempt: p.tag === "backoff" ? p.attempt : 0 };
}

/** The link is up. */
export function toLinked(socket: Upstream, now: number): LinkPhase {
  return { tag: "linked", socket, since: now, lastRxAt: now };
}

/** A frame arrived on the link. */
export function onLinkRx(p: LinkPhase, now: number): LinkPhase {
  return p.tag === "linked" ? { ...p, lastRxAt: now } : p;
}

/** The link failed or was lost: retry after an exponential, jittered delay. */
export function toBackoff(p: LinkPhase, reason: string, now: number, cfg: RelayConfig, random?: () => number) {
  const attempt = p.tag === "linking" || p.tag === "backoff" ? p.attempt + 1 : 0;
  const delay = backoffDelay(attempt, cfg.backoffBaseMs, cfg.backoffMaxMs, random);
  return { tag: "backoff", attempt, retryAt: now + delay, reason } satisfies LinkPhase;
}

/** Which relay a shard serves (the relay's Durable Object name) and its index there. */
export interface ShardIdentity {
  readonly relay: string;
  readonly shard: number;
}

/** Everything a shard needs from its runtime. */
export interface ShardPorts {
  readonly now: () => number;
  /** Open the link to the relay object `relay` (its Durable Object name) as shard `shard` of `instId`. */
  readonly link: (at: ShardIdentity, instId: string, handlers: UpstreamHandlers) => Promise<Upstream>;
  readonly setAlarm: (at: number) => Promise<void>;
  readonly log: Log & { warn(...args: unknown[]): void; info(...args: unknown[]): void };
  readonly defer: (ms: number, fn: () => void) => void;
  readonly random?: () => number;
}

/** A shard's counters and state (RPC `stats`; GET /status merges them into the relay's entry). */
export interface ShardStats extends HubCounters {
  instId: string | null;
  shard: number | null;
  link: LinkPhase["tag"];
  clients: number;
  bookClients: number;
  predictionClients: number;
  /** Book changes received from the relay and broadcast to clients (coalesced ones apart). */
  linkBooks: number;
  broadcasts: number;
  coalesced: number;
  /** Links opened (the first one, then every relink). */
  links: number;
  badLinkFrames: number;
  /** This shard's lag behind the exchange at the last book (relay lag plus the hop). */
  lagMs: number;
  /** Interval between broadcasts now in force (0: every book forwarded at once). */
  coalesceIntervalMs: number;
  /** Sorted lags of acking book clients and how many are lagging (merged across shards for /status). */
  clientLags: number[];
  lagging: number;
}

/** Client count changes are reported to the relay at most this often (a burst of connects is one message). */
const WANT_DEBOUNCE_MS = 50;

/** One fan-out shard. */
export class ShardCore<W extends ClientSocket = ClientSocket> {
  private instId: string | null = null;
  private at: ShardIdentity | null = null;
  private readonly hub: ClientHub<W>;
  private phase: LinkPhase = { tag: "idle" };
  private readonly alarm: AlarmScheduler;
  /** The relay's latest book message per depth (null: no trusted book, e.g. while the link is down). */
  private texts: ReadonlyMap<number, string> | null = null;
  private seq = 0;
  /** The relay's pacing rule (coalescer.ts), measured on this shard: behind, it forwards only the latest book. */
  private readonly coalescer: Coalescer;
  /** The last status the relay sent (what a new client is told first). */
  private status: string | null = null;
  private forecast: string | null = null;
  private score: string | null = null;
  private graceAt: number | null = null;
  private wantArmed = false;
  /** Route tokens of clients accepted since the last want sent. */
  private arrived: number[] = [];
  private lastWant = "";
  private readonly counters = {
    linkBooks: 0,
    broadcasts: 0,
    coalesced: 0,
    links: 0,
    badLinkFrames: 0,
  };

  constructor(
    private readonly cfg: RelayConfig,
    private readonly ports: ShardPorts,
  ) {
    this.alarm = new AlarmScheduler(ports.setAlarm, ports.now);
    this.coalescer = new Coalescer(cfg, {
      now: ports.now,
      defer: (ms, fn) => ports.defer(ms, () => guard(ports.log, "shard.flush", this.label, fn)),
      broadcast: (now) => {
        if (this.texts === null) return false;
        this.broadcastBook(now);
        return true;
      },
      behind: (lagMs, now) => {
        ports.log.warn(`shard behind the exchange by ${lagMs} ms; telling its clients`, this.label);
        this.hub.tellBehind(lagMs, now);
      },
    });
    const core = this;
    const feed: HubFeed = {
      bookText: (depth) => this.texts?.get(depth) ?? null,
      get seq() {
        return core.seq;
      },
      predictionGreeting: () => [this.forecast, this.score].filter((s): s is string => s !== null),
      latestPrediction: () => this.forecast,
      pacing: this.coalescer,
    };
    this.hub = new ClientHub<W>(
      cfg,
      ports,
      feed,
      () => this.instId,
      () => this.onRemoved(),
    );
  }

  /** A label for logs. */
  get label(): string {
    return `${this.at?.relay ?? "?"}#${this.at?.shard ?? "?"}`;
  }

  /** After hibernation or eviction: rebuild the client table; the link comes back on the next alarm. */
  restore(sockets: Iterable<W>, at: ShardIdentity | null): void {
    const instId = this.hub.clients.restore(sockets);
    if (instId !== null && at !== null) {
      this.instId = instId;
      this.at = at;
      if (this.hub.size > 0) this.guarded("shard.schedule", this.ports.setAlarm(this.ports.now()));
    }
  }

  /** The attachment for a new client of this shard; store it on the socket, accept it, then call `onOpen`. */
  newAttachment(instId: string, at: ShardIdentity, kind: Attachment["kind"], depth: number): Attachment {
    this.instId ??= instId;
    this.at ??= at;
    return this.hub.clients.attachment(this.instId, kind, depth);
  }

  /**
   * A client socket was accepted: greet it with what the shard has, and make sure the link runs. `route`: the
   * relay's route token for it (reported back in the next want, so the relay stops counting it as pending).
   */
  onOpen(ws: W, a: Attachment, route: number): void {
    const c = this.hub.add(ws, a);
    if (Number.isSafeInteger(route) && route > 0 && this.arrived.length < MAX_WANT_ARRIVED) this.arrived.push(route);
    this.graceAt = null;
    this.hub.send(ws, this.status ?? this.linkStatus("connecting", "linking to the relay"));
    this.hub.greet(ws, c);
    this.ensureLink();
    this.wantChanged();
  }

  /** A client frame (acks drive its flow control). */
  onMessage(ws: W, frame: string | ArrayBuffer): void {
    this.hub.onMessage(ws, frame);
  }

  /** The client closed (or errored): forget it. */
  onClose(ws: W): void {
    this.hub.remove(ws);
  }

  /** The alarm fired: relink after backoff, keep the link alive, close it after the grace period. */
  async onAlarm(): Promise<void> {
    this.alarm.fired();
    const now = this.ports.now() + ALARM_SLACK_MS;
    const p = this.phase;
    if (this.graceAt !== null && now >= this.graceAt) {
      this.graceAt = null;
      if (this.hub.size === 0) this.unlink("no clients");
    } else if (p.tag === "backoff" && now >= p.retryAt) {
      if (this.hub.size > 0) this.ensureLink();
      else this.phase = { tag: "idle" };
    } else if (p.tag === "idle" && this.hub.size > 0) {
      this.ensureLink(); // woken after eviction with clients attached
    } else if (p.tag === "linked") {
      const silent = now - p.lastRxAt;
      if (silent >= this.cfg.pingAfterMs + this.cfg.pongTimeoutMs) {
        this.lost(`relay link stalled: nothing for ${silent} ms`);
      } else if (silent >= this.cfg.pingAfterMs) {
        this.sendLink(p.socket, "ping");
      }
    }
    await this.schedule();
  }

  /** Counters and state (RPC). */
  snapshotStats(): ShardStats {
    const n = this.hub.clients.counts();
    const [clientLags, lagging] = this.hub.lags();
    return {
      ...createHubCounters(),
      ...this.hub.counters,
      ...this.counters,
      instId: this.instId,
      shard: this.at?.shard ?? null,
      link: this.phase.tag,
      clients: this.hub.size,
      bookClients: n.book,
      predictionClients: n.prediction,
      lagMs: this.coalescer.lagMs,
      coalesceIntervalMs: this.coalescer.intervalMs,
      clientLags,
      lagging,
    };
  }

  // ---- link ------------------------------------------------------------------------------------------------------

  private ensureLink(): void {
    const p = this.phase;
    if (p.tag === "linked" || p.tag === "linking" || this.instId === null || this.at === null) return;
    if (p.tag === "backoff" && this.ports.now() + ALARM_SLACK_MS < p.retryAt) return; // the alarm retries
    this.phase = toLinking(p);
    this.guarded("shard.link", this.openLink(this.at, this.instId));
  }

  private async openLink(at: ShardIdentity, instId: string): Promise<void> {
    let socket: Upstream | null = null;
    try {
      socket = await this.ports.link(at, instId, {
        onMessage: (text) =>
          guard(this.ports.log, "shard.link.onMessage", this.label, () => {
            if (this.current() === socket) this.onLinkFrame(text);
          }),
        onClose: (code, reason) =>
          guard(this.ports.log, "shard.link.onClose", this.label, () => {
            if (this.current() === socket) this.lost(`relay link lost: closed ${code}${reason ? ` ${reason}` : ""}`);
          }),
      });
    } catch (e) {
      this.lost(`relay link failed: ${e instanceof Error ? e.message : String(e)}`);
      await this.schedule();
      return;
    }
    if (this.hub.size === 0) {
      socket.close(1000, "no clients");
      this.phase = { tag: "idle" };
      return;
    }
    this.counters.links++;
    this.phase = toLinked(socket, this.ports.now());
    this.lastWant = "";
    this.sendWant();
    await this.schedule();
  }

  private current(): Upstream | null {
    return this.phase.tag === "linked" ? this.phase.socket : null;
  }

  /**
   * The link is gone: tell every client at once (never a silent gap), forget the book (new clients get none until
   * the relay greets the next link) and retry with backoff while clients remain.
   */
  private lost(reason: string): void {
    const socket = this.current();
    this.phase = toBackoff(this.phase, reason, this.ports.now(), this.cfg, this.ports.random);
    socket?.close(1000, "relink");
    this.ports.log.warn("shard link lost", this.label, reason);
    this.forgetBook();
    this.status = this.linkStatus("resyncing", reason);
    this.hub.broadcastAll(this.status);
    if (this.hub.size === 0) this.phase = { tag: "idle" };
    this.guarded("shard.schedule", this.schedule());
  }

  private unlink(reason: string): void {
    const socket = this.current();
    this.phase = { tag: "idle" };
    socket?.close(1000, reason);
    this.forgetBook();
    this.status = null;
  }

  private forgetBook(): void {
    this.texts = null;
    this.coalescer.reset();
  }

  private sendLink(socket: Upstream, text: string): void {
    try {
      socket.send(text);
    } catch (e) {
      this.lost(`relay link send failed: ${String(e)}`);
    }
  }

  private linkStatus(state: "connecting" | "resyncing", reason: string): string {
    return statusMessage(this.instId ?? "", state, reason, this.ports.now());
  }

  // ---- what the relay publishes ------------------------------------------------------------------------------------

  private onLinkFrame(text: string): void {
    this.phase = onLinkRx(this.phase, this.ports.now());
    if (text === "pong") return;
    const r = parseLinkFrame(text);
    if (!r.ok) {
      // The relay is ours, so this is a bug or a truncated frame: never forward a doubtful book. Relink.
      this.counters.badLinkFrames++;
      this.lost(`bad link frame: ${r.error}`);
      return;
    }
    this.onFrame(r.value);
  }

  private onFrame(f: LinkFrame): void {
    switch (f.kind) {
      case "book":
        this.onBook(f.seq, f.ts, f.books);
        return;
      case "all":
        if (f.text.startsWith('{"type":"status"')) this.status = f.text;
        this.hub.broadcastAll(f.text);
        return;
      case "fatal":
        this.forgetBook();
        this.hub.closeAll(f.code, f.reason, f.text);
        return;
      case "forecast":
        this.forecast = f.text;
        this.hub.broadcastPrediction(f.text);
        return;
      case "score":
        this.score = f.text;
        this.hub.broadcastPrediction(f.text);
        return;
    }
  }

  private onBook(seq: number, ts: number, books: ReadonlyMap<number, string>): void {
    this.counters.linkBooks++;
    if (seq < this.seq) this.hub.resetFlows(); // a restarted relay numbers its books from 1 again
    const same = seq === this.seq && this.texts !== null;
    this.texts = books;
    if (same) {
      // The relay's greeting after a want change (new depths): only clients still without a book get it.
      this.hub.greetWaiting();
      return;
    }
    this.seq = seq;
    // The relay's pacing rule, measured on this shard: a shard that falls behind (its lag includes the relay's and
    // the hop) forwards only the latest book, so its lag stays bounded instead of growing with the link's queue.
    if (this.coalescer.onChange(ts) === "held") this.counters.coalesced++;
  }

  private broadcastBook(now: number): void {
    this.counters.broadcasts++;
    this.hub.broadcastBook(now);
  }

  // ---- clients and timers -------------------------------------------------------------------------------------------

  private onRemoved(): void {
    if (this.hub.size === 0) {
      this.graceAt = this.ports.now() + this.cfg.graceMs;
      this.guarded("shard.schedule", this.schedule());
    }
    this.wantChanged();
  }

  /** Tell the relay what the clients need (debounced: a burst of connects is one message). */
  private wantChanged(): void {
    if (this.wantArmed) return;
    this.wantArmed = true;
    this.ports.defer(WANT_DEBOUNCE_MS, () =>
      guard(this.ports.log, "shard.want", this.label, () => {
        this.wantArmed = false;
        this.sendWant();
      }),
    );
  }

  private sendWant(): void {
    const socket = this.current();
    if (!socket) return;
    const depths = new Set<number>();
    let prediction = false;
    for (const [, c] of this.hub.clients) {
      if (c.kind === "book") depths.add(c.depth);
      else prediction = true;
    }
    const want = wantMessage(this.hub.size, depths, prediction, this.arrived);
    if (want === this.lastWant) return;
    this.lastWant = want;
    this.arrived = [];
    this.sendLink(socket, want);
  }

  private async schedule(): Promise<void> {
    const p = this.phase;
    const keepalive = p.tag === "linked" ? p.lastRxAt + this.cfg.pingAfterMs : null;
    const stall = p.tag === "linked" ? p.lastRxAt + this.cfg.pingAfterMs + this.cfg.pongTimeoutMs : null;
    const retry = p.tag === "backoff" ? p.retryAt : null;
    await this.alarm.arm([this.graceAt, retry, keepalive !== null && this.ports.now() < keepalive ? keepalive : stall]);
  }

  private guarded(name: string, p: Promise<unknown>): void {
    p.catch((e: unknown) => this.ports.log.error(name, this.label, e));
  }
}
