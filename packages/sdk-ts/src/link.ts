/**
 * A WebSocket to the relay that stays up: exponential backoff with equal jitter on every close (the relay's own
 * upstream reconnect rule, src/relay/backoff.ts), the text `ping` every 20 s (the runtime answers `pong` without
 * waking the Durable Object; it gives the round-trip time and detects a dead link), and an immediate retry when a
 * browser comes back online. A fatal server error (unknown instrument, CLOSE.unknownInstrument) stops it: retrying would be
 * refused anyway. Uses the global `WebSocket` (browsers, Node >= 22) unless one is injected.
 */
import { CLOSE } from "../../../src/protocol.js";
import { backoffDelay } from "../../../src/relay/backoff.js";

export type LinkState =
  | { readonly kind: "connecting"; readonly attempt: number }
  | { readonly kind: "open" }
  | {
      readonly kind: "reconnecting";
      readonly attempt: number;
      /** When the next attempt starts (Date.now() clock). */
      readonly at: number;
      readonly reason: string;
      /** The socket closed before it ever opened: the upgrade itself was refused (e.g. a 400 before the upgrade). */
      readonly handshakeFailed: boolean;
    }
  | { readonly kind: "stopped"; readonly reason: string };

/** Connection tuning shared by every subscription. */
export interface LinkOptions {
  /** Interval of the keepalive `ping` (default 20,000 ms). */
  readonly pingMs?: number;
  /** A `ping` unanswered (no frame at all since it was sent) for this long = dead link, reconnect (default 10,000). */
  readonly pongTimeoutMs?: number;
  /** Reconnect backoff: first delay 0.5..1 x base, doubling up to max (defaults 500 / 15,000 ms). */
  readonly backoffBaseMs?: number;
  readonly backoffMaxMs?: number;
  /** WebSocket implementation (default: the global one). */
  readonly WebSocket?: typeof WebSocket;
  /** Random source for the jitter (tests). */
  readonly random?: () => number;
}

interface LinkHandlers {
  onMessage(data: string): void;
  onState(s: LinkState): void;
}

const OPEN = 1;
const CONNECTING = 0;

const CLOSE_REASONS: Record<number, string> = {
  [CLOSE.normal]: "closed",
  1001: "server going away",
  [CLOSE.binary]: "binary frame refused",
  1006: "connection lost",
  [CLOSE.badClient]: "policy violation",
  [CLOSE.tooBig]: "frame too big",
  [CLOSE.sendFailed]: "server error",
  [CLOSE.unknownInstrument]: "unknown instrument",
  [CLOSE.notReading]: "not reading (no ack)",
  [CLOSE.lagging]: "too far behind (no ack)",
};

/** The part of `globalThis` a browser has and Node lacks: the `online` event. */
type OnlineTarget = {
  addEventListener(t: "online", f: () => void): void;
  removeEventListener(t: "online", f: () => void): void;
};
const onlineTarget: OnlineTarget | null =
  typeof (globalThis as Partial<OnlineTarget>).addEventListener === "function"
    ? (globalThis as unknown as OnlineTarget)
    : null;

export class Link {
  private ws: WebSocket | null = null;
  private attempt = 0;
  private stopped = true;
  private fatalReason: string | null = null;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private pingSentAt = 0;
  private opened = false;
  private readonly onOnline = () => {
    if (!this.stopped && this.reconnectTimer !== undefined) this.reconnectNow();
  };
  /** Last frame received (performance.now()). */
  lastRx = 0;
  /** Round trip of the last ping, ms. */
  rttMs: number | null = null;
  state: LinkState = { kind: "connecting", attempt: 1 };

  constructor(
    private readonly url: string,
    private readonly opts: LinkOptions,
    private readonly handlers: LinkHandlers,
  ) {}

  start(): void {
    this.stopped = false;
    onlineTarget?.addEventListener("online", this.onOnline);
    this.connect();
  }

  /** Send a text frame if the socket is open; returns whether it was sent. */
  send(data: string): boolean {
    if (this.ws?.readyState !== OPEN) return false;
    this.ws.send(data);
    return true;
  }

  /** The server reported a fatal error: do not reconnect when it closes the socket. */
  markFatal(reason: string): void {
    this.fatalReason = reason;
  }

  /** Skip the remaining backoff, or start again after a fatal stop (a user's "retry"). */
  reconnectNow(): void {
    if (this.stopped && this.fatalReason === null && this.state.kind !== "stopped") return;
    if (this.stopped) onlineTarget?.addEventListener("online", this.onOnline);
    this.stopped = false;
    this.fatalReason = null;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.detach();
    this.connect();
  }

  /** Drop the current socket and reconnect after the backoff (e.g. the client no longer trusts the stream). */
  restart(reason: string): void {
    if (this.stopped) return;
    this.detach();
    this.scheduleReconnect(reason);
  }

  /** Give up with a reason the caller found out (e.g. the server rejects the request): state `stopped`. */
  fail(reason: string): void {
    this.stop();
    this.fatalReason = reason;
    this.setState({ kind: "stopped", reason });
  }

  stop(): void {
    this.stopped = true;
    onlineTarget?.removeEventListener("online", this.onOnline);
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.detach();
  }

  private setState(s: LinkState): void {
    this.state = s;
    this.handlers.onState(s);
  }

  private connect(): void {
    this.reconnectTimer = undefined;
    this.attempt++;
    this.setState({ kind: "connecting", attempt: this.attempt });
    let ws: WebSocket;
    try {
      ws = new (this.opts.WebSocket ?? WebSocket)(this.url);
    } catch (e) {
      this.scheduleReconnect(e instanceof Error ? e.message : "cannot open socket");
      return;
    }
    this.ws = ws;
    this.opened = false;
    // Listeners check `this.ws === ws`: a detached socket's late events are ignored.
    ws.addEventListener("open", () => {
      if (this.ws !== ws) return;
      this.opened = true;
      this.lastRx = performance.now();
      this.setState({ kind: "open" });
      const pingMs = this.opts.pingMs ?? 20_000;
      const pongTimeoutMs = this.opts.pongTimeoutMs ?? 10_000;
      const ping = () => {
        this.pingSentAt = performance.now();
        this.send("ping");
      };
      ping(); // a first round-trip time right away
      // Judged per ping, not by silence: a hidden tab acks nothing, so the relay rightly stops sending books, and
      // browsers throttle background timers to one a minute; only a ping that got no frame back means a dead link.
      this.pingTimer = setInterval(() => {
        if (this.lastRx < this.pingSentAt && performance.now() - this.pingSentAt > pongTimeoutMs) {
          this.restart("no answer to ping");
          return;
        }
        ping();
      }, pingMs);
    });
    ws.addEventListener("message", (ev: MessageEvent) => {
      if (this.ws !== ws) return;
      this.lastRx = performance.now();
      const data: unknown = ev.data;
      if (typeof data !== "string") return;
      if (data === "pong") {
        if (this.pingSentAt > 0) this.rttMs = this.lastRx - this.pingSentAt;
        return;
      }
      this.attempt = 0; // a working link resets the backoff
      this.handlers.onMessage(data);
    });
    ws.addEventListener("close", (ev: CloseEvent) => {
      if (this.ws !== ws) return;
      this.detach();
      if (this.stopped) return;
      const reason =
        this.fatalReason ?? (ev.code === CLOSE.unknownInstrument ? ev.reason || "unknown instrument" : null);
      if (reason !== null) {
        this.stopped = true;
        this.setState({ kind: "stopped", reason });
        return;
      }
      this.scheduleReconnect(`${CLOSE_REASONS[ev.code] ?? `closed ${ev.code}`}${ev.reason ? `: ${ev.reason}` : ""}`);
    });
    // An `error` event is always followed by `close`, which carries the code.
  }

  private detach(): void {
    clearInterval(this.pingTimer);
    this.pingTimer = undefined;
    const ws = this.ws;
    this.ws = null;
    if (!ws) return;
    if (ws.readyState === OPEN || ws.readyState === CONNECTING) {
      try {
        ws.close(1000);
      } catch {
        // already closing
      }
    }
  }

  private scheduleReconnect(reason: string): void {
    const delay = backoffDelay(
      this.attempt - 1,
      this.opts.backoffBaseMs ?? 500,
      this.opts.backoffMaxMs ?? 15_000,
      this.opts.random,
    );
    this.setState({
      kind: "reconnecting",
      attempt: this.attempt + 1,
      at: Date.now() + delay,
      reason,
      handshakeFailed: !this.opened,
    });
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }
}
