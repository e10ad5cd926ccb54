/**
 * Wire shapes of Prediction v2 on `/ws/prediction`: every horizon in one message. The lead moves these into
 * src/protocol.ts when the relay switches to `createPredictionEngine` (src/predict/engine.ts).
 */

/** One horizon of a forecast made on the book at `ts`. Returns are log returns of the mid, bps. */
export interface HorizonForecast {
  horizonSec: number;
  /** The served point forecast: the model's, or 0 (no-change) when the head ships as no-change or is gated. */
  predictedReturnBps: number;
  predictedMid: number;
  /** 10 % / 90 % band after online conformal calibration, bps and mid units. */
  lowBps: number;
  highBps: number;
  low: number;
  high: number;
  /**
   * True while the head's rolling live skill is below no-change (with hysteresis, after a minimum number of
   * independent windows): the point served is then no-change although the model has one.
   */
  gated: boolean;
  /** What produced the served point: the model head, or no-change (shipped as no-change, or gated). */
  point: "model" | "no-change";
}

/** Multi-horizon forecast (at most one per `minIntervalMs` of exchange time). */
export interface MultiHorizonPredictionMessage {
  type: "prediction";
  instId: string;
  /** Exchange timestamp of the book the forecast was made on, Unix ms. */
  ts: number;
  mid: number;
  horizons: HorizonForecast[];
  model: { name: string; version: string };
}

/** Rolling live (prequential) score of one horizon: every forecast scored once its horizon has passed. */
export interface HorizonScore {
  horizonSec: number;
  /** Scored forecasts in the rolling window (they overlap: see `windows`). */
  count: number;
  /** Independent outcomes in the window: its span / horizon. */
  windows: number;
  /** Errors of the SERVED point forecast, bps. */
  maeBps: number;
  rmseBps: number;
  /** RMSE of no-change over the same forecasts. */
  baselineRmseBps: number;
  /** 1 - MSE(served) / MSE(no-change); null while nothing moved. 0 when no-change is served. */
  skill: number | null;
  /** Same for the model's own point forecast (scored even while gated, so the gate can reopen); null for a no-change head. */
  modelSkill: number | null;
  /** Share of served forecasts with the realised direction, over non-zero forecasts and outcomes; null when none. */
  hitRate: number | null;
  /** Share of realised returns inside the served band (nominal 0.8). */
  coverage: number | null;
  meanWidthBps: number | null;
  gated: boolean;
  /** Conformal scale factors currently applied to the lower / upper half of the band. */
  bandScale: { low: number; high: number };
  /** Online slope applied to the model's point (lambda), or null when the head has none. */
  pointScale: number | null;
}

export interface MultiHorizonScoreMessage {
  type: "score";
  instId: string;
  ts: number;
  horizons: HorizonScore[];
  model: { name: string; version: string };
}
