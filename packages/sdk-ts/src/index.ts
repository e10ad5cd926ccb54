/**
 * TradeSim client SDK (browsers and Node >= 22, global WebSocket and fetch; no runtime dependency).
 *
 * ```ts
 * const ts = new TradeSimClient({ baseUrl: "http://127.0.0.1:8787" });
 * const book = ts.subscribeBook("BTC-USDT-SWAP", { depth: 5 });
 * book.on("book", (b) => console.log(b.seq, b.bids[0], b.asks[0]));
 * book.on("mismatch", (m) => console.warn("checksum mismatch", m));
 * const fill = await ts.simulateTrade({ instId: "BTC-USDT-SWAP", side: "buy", contracts: 10 });
 * ```
 */
import { BookSubscription, type BookOptions } from "./book.js";
import { postJson, type SimulateResponse, type SimulateTradeRequest } from "./http.js";
import type { LinkOptions } from "./link.js";
import { PredictionSubscription } from "./predictions.js";

export type {
  BookEvents,
  BookOptions,
  BookStats,
  ChecksumMismatch,
  StaleEvent,
  StateEvent,
  SubscriptionState,
} from "./book.js";
export type { Emitter } from "./emitter.js";
export type { LinkOptions, LinkState } from "./link.js";
export type { PredictionEvents } from "./predictions.js";
export type { SimulateResponse, SimulateTradeRequest } from "./http.js";
export type {
  BookMessage,
  ErrorMessage,
  HorizonForecast,
  HorizonScore,
  LaggingMessage,
  PredictionMessage,
  ScoreMessage,
  StatusMessage,
  UpstreamState,
  WireLevel,
} from "../../../src/protocol.js";
export { BookSubscription, PredictionSubscription };
export { TradeSimApiError } from "./http.js";
export { bookChecksum } from "./verify.js";

export interface ClientOptions {
  /** The Worker's origin, e.g. `https://tradesim.example.com`; default in a browser: the page's origin. */
  readonly baseUrl?: string;
  /** fetch implementation (default: the global one). */
  readonly fetch?: typeof fetch;
  /** Defaults for every subscription's link (backoff, ping, WebSocket implementation). */
  readonly link?: LinkOptions;
}

export class TradeSimClient {
  readonly baseUrl: string;
  private readonly f: typeof fetch;

  constructor(private readonly opts: ClientOptions = {}) {
    const base = opts.baseUrl ?? (globalThis as { location?: { origin?: string } }).location?.origin;
    if (base === undefined) throw new TypeError("TradeSimClient: baseUrl is required outside a browser");
    this.baseUrl = base.replace(/\/+$/, "");
    this.f = opts.fetch ?? ((input, init) => fetch(input, init));
  }

  /** Subscribe to an instrument's verified order book (`GET /ws/okx`); the socket opens at once. */
  subscribeBook(instId: string, opts: BookOptions = {}): BookSubscription {
    return new BookSubscription(instId, this.baseUrl, { fetch: this.f, ...this.opts.link, ...opts }).start();
  }

  /** Subscribe to an instrument's mid-price forecasts and live score (`GET /ws/prediction`). */
  subscribePredictions(instId: string, opts: LinkOptions = {}): PredictionSubscription {
    return new PredictionSubscription(instId, this.baseUrl, { ...this.opts.link, ...opts }).start();
  }

  /** `POST /simulate/trade`; rejects with TradeSimApiError on a 4xx/5xx (its `path` names the field). */
  simulateTrade(body: SimulateTradeRequest, init: { signal?: AbortSignal } = {}): Promise<SimulateResponse> {
    return postJson<SimulateResponse>(this.f, `${this.baseUrl}/simulate/trade`, body, init.signal);
  }
}
