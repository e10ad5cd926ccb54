/**
 * A WebSocket to the relay that stays up: exponential backoff with equal jitter on every close (like the relay's
 * own upstream reconnect), the text `ping` every 20 s (the runtime answers `pong` without waking the Durable
 * Object; we use it for the round-trip time), a stale-link check, and an immediate retry when the browser comes
 * back online. Fatal server errors (unknown instrument, close 4004) stop it: retrying would be refused anyway.
 */

export type LinkState =
  | { readonly kind: "connecting"; readonly attempt: number }
  | { readonly kind: "open" }
  | {
      readonly kind: "reconnecting";
      readonly attempt: number;
      readonly at: number;
      readonly reason: string;
      /** The socket closed before it ever opened: the upgrade itself was refused (e.g. a 400 before the upgrade). */
      readonly handshakeFailed: boolean;
    }
  | { readonly kind: "stopped"; readonly reason: string };

export interface FeedOptions {
  readonly url: string;
  readonly onMessage: (data: string) => void;
  readonly onState: (s: LinkState) => void;
  readonly pingMs?: number;
  /** A `ping` unanswered (no frame at all since it was sent) for this long = dead link, reconnect. */
  readonly pongTimeoutMs?: number;
  readonly backoffBaseMs?: number;
  readonly backoffMaxMs?: number;
}

const CLOSE_REASONS: Record<number, string> = {
  1000: "closed",
  1001: "server going away",
  1006: "connection lost",
  1008: "policy violation",
  1009: "frame too big",
  1011: "server error",
  4004: "unknown instrument",
};

export class Feed {
  private ws: WebSocket | null = null;
  private attempt = 0;
  private stopped = false;
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

  constructor(private readonly opts: FeedOptions) {}

  start(): void {
    window.addEventListener("online", this.onOnline);
    this.connect();
  }

  /** Send a text frame if the socket is open; returns whether it was sent. */
  send(data: string): boolean {
    if (this.ws?.readyState !== WebSocket.OPEN) return false;
    this.ws.send(data);
    return true;
  }

  /** The server reported a fatal error: do not reconnect when it closes the socket. */
  markFatal(reason: string): void {
    this.fatalReason = reason;
  }

  /** Skip the remaining backoff (user pressed "retry"). */
  reconnectNow(): void {
    if (this.stopped && this.fatalReason === null) return;
    if (this.stopped) window.addEventListener("online", this.onOnline);
    this.stopped = false;
    this.fatalReason = null;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.detach();
    this.connect();
  }

  /** Give up with a reason the caller found out (e.g. the server rejects the request): state `stopped`. */
  fail(reason: string): void {
    this.stop();
    this.fatalReason = reason;
    this.setState({ kind: "stopped", reason });
  }

  stop(): void {
    this.stopped = true;
    window.removeEventListener("online", this.onOnline);
    clearTimeout(this.reconnectTimer);
    this.detach();
  }

  private setState(s: LinkState): void {
    this.state = s;
    this.opts.onState(s);
  }

  private connect(): void {
    this.reconnectTimer = undefined;
    this.attempt++;
    this.setState({ kind: "connecting", attempt: this.attempt });
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.opts.url);
    } catch (e) {
      this.scheduleReconnect(e instanceof Error ? e.message : "cannot open socket");
      return;
    }
    this.ws = ws;
    this.opened = false;
    ws.onopen = () => {
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
          this.detach();
          this.scheduleReconnect("no answer to ping");
          return;
        }
        ping();
      }, pingMs);
    };
    ws.onmessage = (ev: MessageEvent) => {
      this.lastRx = performance.now();
      if (typeof ev.data !== "string") return;
      if (ev.data === "pong") {
        if (this.pingSentAt > 0) this.rttMs = this.lastRx - this.pingSentAt;
        return;
      }
      this.attempt = 0; // a working link resets the backoff
      this.opts.onMessage(ev.data);
    };
    ws.onclose = (ev: CloseEvent) => {
      this.detach();
      if (this.stopped) return;
      const reason = this.fatalReason ?? (ev.code === 4004 ? ev.reason || "unknown instrument" : null);
      if (reason !== null) {
        this.stopped = true;
        this.setState({ kind: "stopped", reason });
        return;
      }
      this.scheduleReconnect(`${CLOSE_REASONS[ev.code] ?? `closed ${ev.code}`}${ev.reason ? `: ${ev.reason}` : ""}`);
    };
    ws.onerror = () => {
      // A close event always follows; it carries the code.
    };
  }

  private detach(): void {
    clearInterval(this.pingTimer);
    this.pingTimer = undefined;
    const ws = this.ws;
    this.ws = null;
    if (!ws) return;
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) {
      try {
        ws.close(1000);
      } catch {
        // already closing
      }
    }
  }

  private scheduleReconnect(reason: string): void {
    const base = this.opts.backoffBaseMs ?? 500;
    const max = this.opts.backoffMaxMs ?? 15_000;
    const cap = Math.min(max, base * 2 ** Math.max(0, this.attempt - 1));
    const delay = cap / 2 + Math.random() * (cap / 2);
    this.setState({ kind: "reconnecting", attempt: this.attempt + 1, at: Date.now() + delay, reason, handshakeFailed: !this.opened });
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }
}
