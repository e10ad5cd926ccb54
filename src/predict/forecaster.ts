/**
 * Per-instrument glue for the relay: features on EVERY book change, a forecast at most every `minIntervalMs` of
 * exchange time (one in flight at a time), and live scoring of earlier forecasts, in the order that keeps the
 * three consistent. The relay calls `forecasterOnBook` after each applied, changed book and broadcasts what comes
 * back; it calls `forecasterReset` when the book was dropped (fault/resync).
 *
 * Why features run on every change even when forecasts are throttled: the windows (returns, OFI, volatility) are
 * sums over every event; skipping books would change the features the model was trained on.
 */
import { createFeatureState, NUM_FEATURES, resetFeatureState, updateFeatures, type BookView, type FeatureState } from "../features/features.js";
import type { PredictionMessage, ScoreMessage } from "../protocol.js";
import { predictionMessage, type Predictor } from "./predictor.js";
import { addForecast, createScorer, dropPending, observeMid, scoreMessage, type ScorerState } from "./score.js";

export interface ForecasterOptions {
  readonly instId: string;
  readonly predictor: Predictor;
  /** Minimum exchange time between forecasts (default 1000 ms: one `prediction` message per second at most). */
  readonly minIntervalMs?: number;
  /** Minimum exchange time between `score` messages (default 1000 ms). */
  readonly minScoreIntervalMs?: number;
  /** Rolling window of the live score (default 600 s). */
  readonly scoreWindowSec?: number;
}

export interface ForecasterState {
  readonly instId: string;
  predictor: Predictor;
  readonly features: FeatureState;
  readonly scorer: ScorerState;
  /** Latest feature vector (overwritten on every book; copied when a forecast starts). */
  readonly vec: Float32Array;
  readonly minIntervalMs: number;
  readonly minScoreIntervalMs: number;
  lastForecastTs: number;
  lastScoreTs: number;
  /** A forecast is running (session.run is async); later books do not start another. */
  inFlight: boolean;
  /** Bumped by reset, so a forecast started before a resync is not scored against the new book. */
  epoch: number;
  forecasts: number;
  errors: number;
}

/** Outcome of one book change: messages to broadcast (each serialized once by the caller). */
export interface BookOutcome {
  /** Rolling live score, when forecasts were scored and the score rate allows. */
  readonly score: ScoreMessage | null;
  /** The forecast for this book, when one was started; resolves to null if the predictor failed or a reset intervened. */
  readonly prediction: Promise<PredictionMessage | null> | null;
}

/** A forecaster for one instrument. */
export function createForecaster(o: ForecasterOptions): ForecasterState {
  return {
    instId: o.instId,
    predictor: o.predictor,
    features: createFeatureState(),
    scorer: createScorer({ horizonSec: o.predictor.horizonSec, ...(o.scoreWindowSec !== undefined && { windowSec: o.scoreWindowSec }) }),
    vec: new Float32Array(NUM_FEATURES),
    minIntervalMs: o.minIntervalMs ?? 1000,
    minScoreIntervalMs: o.minScoreIntervalMs ?? 1000,
    lastForecastTs: -Infinity,
    lastScoreTs: -Infinity,
    inFlight: false,
    epoch: 0,
    forecasts: 0,
    errors: 0,
  };
}

/**
 * Call after every applied book change (applyBook ok && changed). Synchronous part: features, scoring of due
 * forecasts, maybe a ScoreMessage. Asynchronous part: the forecast, if the rate allows and none is running.
 */
export function forecasterOnBook(f: ForecasterState, book: BookView): BookOutcome {
  if (!updateFeatures(f.features, book, f.vec)) return { score: null, prediction: null };
  const ts = f.features.lastTs;
  const bb = book.bids[0]!.price;
  const ba = book.asks[0]!.price;
  const mid = (bb + ba) / 2;

  let score: ScoreMessage | null = null;
  const scored = observeMid(f.scorer, ts, mid);
  if (scored > 0 && ts - f.lastScoreTs >= f.minScoreIntervalMs) {
    f.lastScoreTs = ts;
    score = scoreMessage(f.scorer, f.instId, ts, f.predictor);
  }

  let prediction: Promise<PredictionMessage | null> | null = null;
  if (!f.inFlight && ts - f.lastForecastTs >= f.minIntervalMs) {
    f.inFlight = true;
    f.lastForecastTs = ts;
    const p = f.predictor;
    const epoch = f.epoch;
    const x = f.vec.slice(); // the next book overwrites f.vec while the run is pending
    prediction = p.predict(x).then(
      (fc) => {
        f.inFlight = false;
        if (epoch !== f.epoch) return null;
        addForecast(f.scorer, { ts, mid, returnBps: fc.returnBps, lowBps: fc.lowBps, highBps: fc.highBps });
        f.forecasts++;
        return predictionMessage(f.instId, ts, mid, fc, p);
      },
      () => {
        f.inFlight = false;
        f.errors++;
        return null;
      },
    );
  }
  return { score, prediction };
}

/** The book was dropped (fault, resync): restart the feature windows and forget unscored forecasts. */
export function forecasterReset(f: ForecasterState): void {
  resetFeatureState(f.features);
  dropPending(f.scorer);
  f.epoch++;
  f.lastForecastTs = -Infinity;
}
