/**
 * The relay's prediction part: features on every book change, forecasts (rate-limited by the forecaster) and
 * live scores, each serialized once for all prediction clients. The model is injected (the Worker passes the
 * bundled ONNX model; Node tests pass a fake), and until it has loaded the no-change fallback serves.
 */
import type { Book } from "../okx/book.js";
import type { OkxTradeData } from "../okx/protocol.js";
import type { PredictionMessage, ScoreMessage } from "../protocol.js";
import { createForecaster, forecasterOnBook, forecasterReset, type ForecasterState } from "../predict/forecaster.js";
import type { Predictor } from "../predict/predictor.js";

/** Where models come from (injected). */
export interface PredictorSource {
  /** Serves at once, while the real model loads (or if it fails). */
  fallback(): Predictor;
  /** The shipped model (~200 ms once per isolate in workerd). */
  load(): Promise<Predictor>;
}

/** Serialized messages produced by one book change. */
export interface PredictionOutput {
  readonly score: string | null;
  /** Resolves to the serialized forecast, or null when none was made. */
  readonly prediction: Promise<string | null> | null;
}

export class PredictionPart {
  private forecaster: ForecasterState | null = null;
  private lastPrediction: string | null = null;
  private lastScore: string | null = null;
  /** `name@version` of the model serving forecasts; null before the first book. */
  model: string | null = null;

  constructor(
    private readonly instId: string,
    private readonly source: PredictorSource,
    private readonly onLoadError: (e: unknown) => void,
  ) {}

  /** Features, scoring and maybe a forecast for a changed book. */
  onBook(book: Book): PredictionOutput {
    const out = forecasterOnBook(this.ensure(), book);
    let score: string | null = null;
    if (out.score) {
      score = JSON.stringify(out.score satisfies ScoreMessage);
      this.lastScore = score;
    }
    const prediction = out.prediction
      ? out.prediction.then((m) => {
          if (!m) return null;
          const s = JSON.stringify(m satisfies PredictionMessage);
          this.lastPrediction = s;
          return s;
        })
      : null;
    return { score, prediction };
  }

  /** An OKX `trades` push for the instrument; returns how many items were unusable. */
  onTrades(_data: readonly OkxTradeData[]): number {
    return 0;
  }

  /** The book is no longer trusted: restart the feature windows (no forecast spans a resync). */
  reset(): void {
    if (this.forecaster) forecasterReset(this.forecaster);
  }

  /** What a newly connected prediction client gets at once: the latest forecast and score. */
  latest(): string[] {
    return [this.lastPrediction, this.lastScore].filter((s): s is string => s !== null);
  }

  /** The latest forecast alone (what a conflated client gets on its next ack). */
  latestPrediction(): string | null {
    return this.lastPrediction;
  }

  private ensure(): ForecasterState {
    if (this.forecaster) return this.forecaster;
    const fc = createForecaster({ instId: this.instId, predictor: this.source.fallback() });
    this.forecaster = fc;
    this.model = `${fc.predictor.name}@${fc.predictor.version}`;
    this.source.load().then(
      (p) => {
        fc.predictor = p;
        this.model = `${p.name}@${p.version}`;
      },
      (e: unknown) => this.onLoadError(e),
    );
    return fc;
  }
}
