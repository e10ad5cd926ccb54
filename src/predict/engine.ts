/**
 * Prediction v2 for one instrument, the one object the relay holds: features on every book and trade (the training
 * rows' code path), a multi-horizon forecast at most every `minIntervalMs` of exchange time, and per-horizon live
 * scoring, gating and band calibration (horizon.ts). Pure: no clock, no I/O; the caller passes exchange time.
 *
 * Relay call pattern (docs/prediction.md):
 *   engine.onTrades(push.data)             for every OKX `trades` push of the instrument, in the order received
 *   engine.onBook(book)                    after every applied book change (applyBook ok && changed)
 *   engine.maybePredict(book.ts)?.then(m => m && broadcast(m))
 *   const s = engine.maybeScore(book.ts); if (s) broadcast(s)
 *   engine.reset()                         when the book faulted / is resubscribing
 *   engine.setModel(onnxModel)             once the ONNX model has loaded (starts with the no-change fallback)
 */
import type { OkxTradeData } from "../okx/protocol.js";
import {
  createFeatureState,
  NUM_FEATURES,
  parseOkxTrade,
  resetFeatureState,
  updateFeatures,
  updateTrades,
  type BookView,
  type FeatureState,
  type TradeView,
} from "../features/features.js";
import type { ConformalOptions } from "./conformal.js";
import type { GateOptions } from "./gate.js";
import {
  addServed,
  createHorizon,
  dropPendingHorizon,
  horizonScore,
  observeHorizon,
  pendingHorizon,
  serve,
  type HorizonState,
} from "./horizon.js";
import type { MultiHorizonModel } from "./multi.js";
import type { HorizonForecast, PredictionMessage, ScoreMessage } from "../protocol.js";

export interface PredictionEngineOptions {
  readonly instId: string;
  readonly model: MultiHorizonModel;
  /** Minimum exchange time between forecasts (default 1000 ms). */
  readonly minIntervalMs?: number;
  /** Minimum exchange time between score messages (default 1000 ms). */
  readonly minScoreIntervalMs?: number;
  /** Rolling live-score window per horizon, seconds (default max(600, 20 horizons)). */
  readonly windowSec?: number;
  readonly gate?: GateOptions;
  readonly conformal?: ConformalOptions;
}

/** Counters for /status and logs. */
export interface EngineStats {
  books: number;
  trades: number;
  badTrades: number;
  forecasts: number;
  predictErrors: number;
  resets: number;
}

export class PredictionEngine {
  readonly instId: string;
  private modelRef: MultiHorizonModel;
  private readonly opts: PredictionEngineOptions;
  private readonly features: FeatureState = createFeatureState();
  /** Latest feature vector (overwritten on every book; copied when a forecast starts). */
  private readonly vec = new Float32Array(NUM_FEATURES);
  private horizons: HorizonState[] = [];
  private lastBookTs = -Infinity;
  private lastMid = NaN;
  private hasBook = false;
  private lastForecastTs = -Infinity;
  private lastScoreTs = -Infinity;
  private scoredSinceMessage = 0;
  private inFlight = false;
  /** Bumped by reset and setModel: a forecast started before is dropped, never scored against the new state. */
  private epoch = 0;
  readonly stats: EngineStats = { books: 0, trades: 0, badTrades: 0, forecasts: 0, predictErrors: 0, resets: 0 };

  constructor(o: PredictionEngineOptions) {
    this.instId = o.instId;
    this.opts = o;
    this.modelRef = o.model;
    this.buildHorizons();
  }

  private buildHorizons(): void {
    const m = this.modelRef;
    this.horizons = m.horizonsSec.map((h, i) =>
      createHorizon({
        horizonSec: h,
        noChangeHead: m.pointIsNoChange[i] ?? true,
        onlineSlope: m.onlineSlope?.[i] ?? null,
        ...(this.opts.minIntervalMs !== undefined && { minIntervalMs: this.opts.minIntervalMs }),
        ...(this.opts.windowSec !== undefined && { windowSec: this.opts.windowSec }),
        ...(this.opts.gate !== undefined && { gate: this.opts.gate }),
        ...(this.opts.conformal !== undefined && { conformal: this.opts.conformal }),
      }),
    );
  }

  /** The model serving now. */
  get model(): MultiHorizonModel {
    return this.modelRef;
  }

  /**
   * Swap the model (e.g. the ONNX model once loaded, replacing the no-change fallback). Live scores, gates and band
   * calibration restart: they describe one model. Features are kept (they do not depend on the model).
   */
  setModel(m: MultiHorizonModel): void {
    this.modelRef = m;
    this.epoch++;
    this.inFlight = false;
    this.buildHorizons();
  }

  /** Fold one trade in (features only; trades never touch the book). */
  onTrade(t: TradeView): void {
    updateTrades(this.features, t);
    this.stats.trades++;
  }

  /** Fold an OKX `trades` push's items in; malformed items are counted and skipped. Returns how many were bad. */
  onTrades(data: readonly OkxTradeData[]): number {
    let bad = 0;
    for (const d of data) {
      const t = parseOkxTrade(d);
      if (t === null) bad++;
      else this.onTrade(t);
    }
    this.stats.badTrades += bad;
    return bad;
  }

  /**
   * Call after every applied book change. Updates the features and scores every forecast whose horizon has passed.
   * Returns false (nothing recorded) for a book with an empty side.
   */
  onBook(book: BookView): boolean {
    if (!updateFeatures(this.features, book, this.vec)) return false;
    const ts = this.features.lastTs;
    const mid = (book.bids[0]!.price + book.asks[0]!.price) / 2;
    for (const h of this.horizons) this.scoredSinceMessage += observeHorizon(h, ts, mid);
    this.lastBookTs = ts;
    this.lastMid = mid;
    this.hasBook = true;
    this.stats.books++;
    return true;
  }

  /**
   * Start a forecast on the latest book if at least `minIntervalMs` of exchange time passed since the last one and
   * none is running (`predict` is async). Resolves to the message to broadcast, or null if the model failed or a
   * reset intervened.
   */
  maybePredict(nowExchangeMs: number): Promise<PredictionMessage | null> | null {
    if (!this.hasBook || this.inFlight) return null;
    if (nowExchangeMs - this.lastForecastTs < (this.opts.minIntervalMs ?? 1000)) return null;
    this.inFlight = true;
    this.lastForecastTs = nowExchangeMs;
    const ts = this.lastBookTs;
    const mid = this.lastMid;
    const model = this.modelRef;
    const epoch = this.epoch;
    const x = this.vec.slice(); // the next book overwrites vec while the run is pending
    return model.predict(x).then(
      (heads) => {
        if (epoch !== this.epoch) return null;
        this.inFlight = false;
        if (
          heads.length !== this.horizons.length ||
          !heads.every((f) => Number.isFinite(f.returnBps + f.lowBps + f.highBps))
        ) {
          this.stats.predictErrors++;
          return null;
        }
        const out: HorizonForecast[] = [];
        for (let i = 0; i < heads.length; i++) {
          const h = this.horizons[i]!;
          const s = serve(h, heads[i]!);
          addServed(h, ts, mid, s);
          out.push({
            horizonSec: h.horizonSec,
            predictedReturnBps: s.pointBps,
            predictedMid: mid * Math.exp(s.pointBps / 1e4),
            lowBps: s.lowBps,
            highBps: s.highBps,
            low: mid * Math.exp(s.lowBps / 1e4),
            high: mid * Math.exp(s.highBps / 1e4),
            gated: h.gate.gated,
            point: h.noChangeHead || h.gate.gated ? "no-change" : "model",
          });
        }
        this.stats.forecasts++;
        return {
          type: "prediction",
          instId: this.instId,
          ts,
          mid,
          horizons: out,
          model: { name: model.name, version: model.version },
        } satisfies PredictionMessage;
      },
      () => {
        if (epoch === this.epoch) this.inFlight = false;
        this.stats.predictErrors++;
        return null;
      },
    );
  }

  /** The per-horizon live score now (wire shape). */
  score(ts: number = this.lastBookTs): ScoreMessage {
    return {
      type: "score",
      instId: this.instId,
      ts,
      horizons: this.horizons.map(horizonScore),
      model: { name: this.modelRef.name, version: this.modelRef.version },
    } satisfies ScoreMessage;
  }

  /** A score message when forecasts were scored since the last one and `minScoreIntervalMs` has passed; else null. */
  maybeScore(nowExchangeMs: number): ScoreMessage | null {
    if (this.scoredSinceMessage === 0 || nowExchangeMs - this.lastScoreTs < (this.opts.minScoreIntervalMs ?? 1000))
      return null;
    this.lastScoreTs = nowExchangeMs;
    this.scoredSinceMessage = 0;
    return this.score(nowExchangeMs);
  }

  /** The book was dropped (fault, resync): restart the feature windows and forget unscored forecasts. */
  reset(): void {
    resetFeatureState(this.features);
    for (const h of this.horizons) dropPendingHorizon(h);
    this.epoch++;
    this.inFlight = false;
    this.hasBook = false;
    this.lastForecastTs = -Infinity;
    this.stats.resets++;
  }

  /** A copy of the feature vector of the latest book (what the next forecast will use). */
  lastFeatures(): Float32Array {
    return this.vec.slice();
  }

  /** Per-horizon state (tests, /status). */
  horizonStates(): readonly HorizonState[] {
    return this.horizons;
  }

  /** Forecasts waiting for their horizon, per horizon (memory check). */
  pending(): number[] {
    return this.horizons.map(pendingHorizon);
  }
}

/** One engine per instrument. */
export function createPredictionEngine(o: PredictionEngineOptions): PredictionEngine {
  return new PredictionEngine(o);
}
