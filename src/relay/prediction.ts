/**
 * The relay's prediction part: the Prediction v2 engine (src/predict/engine.ts) fed with every book change and
 * every trade, its multi-horizon forecasts (at most one per second of exchange time) and per-horizon live scores,
 * each serialized once for all prediction clients. The model is injected (the Worker passes the bundled ONNX
 * model; Node tests pass a fake); until it has loaded, the no-change fallback with the shipped bands serves.
 */
import type { Book } from "../okx/book.js";
import type { OkxTradeData } from "../okx/protocol.js";
import { createPredictionEngine, type PredictionEngine } from "../predict/engine.js";
import type { MultiHorizonModel } from "../predict/multi.js";
import type { PredictionMessage, ScoreMessage } from "../protocol.js";

/** Where models come from (injected). */
export interface PredictorSource {
  /** Serves at once, while the real model loads (or if it fails). */
  fallback(): MultiHorizonModel;
  /** The shipped model (~300 ms once per isolate in workerd). */
  load(): Promise<MultiHorizonModel>;
}

/** Serialized messages produced by one book change. */
export interface PredictionOutput {
  readonly score: string | null;
  /** Resolves to the serialized forecast, or null when none was made. */
  readonly prediction: Promise<string | null> | null;
}

export class PredictionPart {
  private engine: PredictionEngine | null = null;
  private lastPrediction: string | null = null;
  private lastScore: string | null = null;
  /** `name@version` of the model serving forecasts; null before the first book. */
  model: string | null = null;

  constructor(
    private readonly instId: string,
    private readonly source: PredictorSource,
    private readonly onLoadError: (e: unknown) => void,
  ) {}

  /** Every OKX `trades` push of the instrument, in the order received; returns how many items were unusable. */
  onTrades(data: readonly OkxTradeData[]): number {
    return this.ensure().onTrades(data);
  }

  /** Features, scoring and maybe a forecast for a changed book. */
  onBook(book: Book): PredictionOutput {
    const e = this.ensure();
    if (!e.onBook(book)) return { score: null, prediction: null };
    let score: string | null = null;
    const s = e.maybeScore(book.ts);
    if (s) {
      score = JSON.stringify(s satisfies ScoreMessage);
      this.lastScore = score;
    }
    const p = e.maybePredict(book.ts);
    const prediction = p
      ? p.then((m) => {
          if (!m) return null;
          const text = JSON.stringify(m satisfies PredictionMessage);
          this.lastPrediction = text;
          return text;
        })
      : null;
    return { score, prediction };
  }

  /** The book is no longer trusted: restart the feature windows (no forecast spans a resync). */
  reset(): void {
    this.engine?.reset();
  }

  /** What a newly connected prediction client gets at once: the latest forecast and score. */
  latest(): string[] {
    return [this.lastPrediction, this.lastScore].filter((s): s is string => s !== null);
  }

  /** The latest score message, if any. */
  latestScore(): string | null {
    return this.lastScore;
  }

  /** The latest forecast alone (what a conflated client gets on its next ack). */
  latestPrediction(): string | null {
    return this.lastPrediction;
  }

  private ensure(): PredictionEngine {
    if (this.engine) return this.engine;
    const e = createPredictionEngine({ instId: this.instId, model: this.source.fallback() });
    this.engine = e;
    this.model = `${e.model.name}@${e.model.version}`;
    this.source.load().then(
      (m) => {
        e.setModel(m);
        this.model = `${m.name}@${m.version}`;
      },
      (err: unknown) => this.onLoadError(err),
    );
    return e;
  }
}
