/**
 * `subscribePredictions`: the relay's mid-price forecasts and their rolling live score from `GET /ws/prediction`,
 * over the same reconnecting link as the book. Every message is acknowledged: on this socket any ack renews the
 * relay's send budget (its `seq` is not checked), so a client that reads never gets `ack_required`.
 */
import type {
  ClientMessage,
  ErrorMessage,
  PredictionMessage,
  ScoreMessage,
  ServerMessage,
  StatusMessage,
} from "../../../src/protocol.js";
import { wsBase } from "./book.js";
import { Emitter } from "./emitter.js";
import { Link, type LinkOptions, type LinkState } from "./link.js";

export interface PredictionEvents {
  prediction: PredictionMessage;
  score: ScoreMessage;
  /** The relay's report on its upstream OKX connection. */
  status: StatusMessage;
  /** This client's own socket. */
  link: LinkState;
  error: ErrorMessage;
}

export class PredictionSubscription extends Emitter<PredictionEvents> {
  /** Latest forecast and score, or null. */
  prediction: PredictionMessage | null = null;
  score: ScoreMessage | null = null;
  upstream: StatusMessage | null = null;
  private readonly link: Link;
  private started = false;

  constructor(
    readonly instId: string,
    httpBase: string,
    opts: LinkOptions = {},
  ) {
    super();
    const url = `${wsBase(httpBase)}/ws/prediction?instId=${encodeURIComponent(instId)}`;
    this.link = new Link(url, opts, { onMessage: (d) => this.onFrame(d), onState: (s) => this.emit("link", s) });
  }

  get linkState(): LinkState {
    return this.link.state;
  }

  /** Skip the backoff, or start again after a fatal stop. */
  reconnect(): void {
    this.link.reconnectNow();
  }

  /** Stop retrying with a reason found elsewhere (e.g. the book subscription's server rejected the instrument). */
  fail(reason: string): void {
    this.link.fail(reason);
  }

  close(): void {
    this.link.stop();
  }

  /** Open the socket (called by the client; idempotent). */
  start(): this {
    if (!this.started) {
      this.started = true;
      this.link.start();
    }
    return this;
  }

  private onFrame(data: string): void {
    let m: ServerMessage;
    try {
      m = JSON.parse(data) as ServerMessage;
    } catch {
      return;
    }
    switch (m.type) {
      case "prediction":
        if (m.instId !== this.instId) return;
        this.prediction = m;
        this.emit("prediction", m);
        break;
      case "score":
        if (m.instId !== this.instId) return;
        this.score = m;
        this.emit("score", m);
        break;
      case "status":
        if (m.instId !== this.instId) return;
        this.upstream = m;
        this.emit("status", m);
        return;
      case "error":
        if (m.fatal) this.link.markFatal(m.message || m.code);
        this.emit("error", m);
        return;
      default:
        return;
    }
    this.link.send(JSON.stringify({ op: "ack", seq: 0 } satisfies ClientMessage));
  }
}
