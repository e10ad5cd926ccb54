/**
 * Serving interface for mid-price forecasts. A `Predictor` turns the feature vector of one book snapshot
 * (src/features/, FEATURE_NAMES order, as a Float32Array) into a forecast of the mid's log return over the
 * model's horizon, with a 10% / 90% quantile interval.
 *
 * `predict` is async because onnxruntime-web's `session.run` is; the relay should not hold book fan-out on it
 * (see docs/prediction.md for the per-snapshot call pattern).
 */
import { FEATURE_NAMES, FEATURE_VERSION, NUM_FEATURES } from "../features/features.js";

/** Forecast of the mid log return over the horizon, bps; low/high are the 10% / 90% quantiles. */
export interface Forecast {
  returnBps: number;
  lowBps: number;
  highBps: number;
}

export interface Predictor {
  /** Model name (e.g. `mid60`) and version (feature version + content hash), sent with every forecast. */
  readonly name: string;
  readonly version: string;
  readonly horizonSec: number;
  /** FEATURE_VERSION the model was trained on. */
  readonly featureVersion: string;
  /** Forecast from one feature vector (length NUM_FEATURES). */
  predict(features: Float32Array): Promise<Forecast>;
}

/** Metadata written beside each ONNX model by training/train.py (models/NAME.json); the fields serving reads. */
export interface ModelMeta {
  readonly name: string;
  readonly version: string;
  readonly kind: string;
  readonly horizonSec: number;
  readonly featureVersion: string;
  readonly featureNames: readonly string[];
  readonly quantiles: { readonly low: number; readonly high: number };
  readonly onnx: {
    readonly file: string;
    readonly sha256: string;
    readonly input: { readonly name: string; readonly shape: readonly (string | number)[] };
    readonly outputs: { readonly returnBps: string; readonly lowBps: string; readonly highBps: string };
  };
  /** Training-set quantiles etc. live under metrics; only used for reports. */
  readonly metrics?: unknown;
}

/**
 * Throw unless a model was trained on exactly the features this build computes (same version, names and order):
 * a silently reordered input would produce confident nonsense.
 */
export function assertCompatible(meta: Pick<ModelMeta, "name" | "featureVersion" | "featureNames">): void {
  if (meta.featureVersion !== FEATURE_VERSION) {
    throw new Error(
      `model ${meta.name} was trained on features ${meta.featureVersion}, this build computes ${FEATURE_VERSION}`,
    );
  }
  if (meta.featureNames.length !== NUM_FEATURES || meta.featureNames.some((n, i) => n !== FEATURE_NAMES[i])) {
    throw new Error(
      `model ${meta.name} expects features [${meta.featureNames.join(", ")}], this build computes [${FEATURE_NAMES.join(", ")}]`,
    );
  }
}

/**
 * The martingale forecast: the mid will not move. Its interval is a constant pair of quantiles (e.g. the training
 * set's 10% / 90% returns). Used when no model is available; the shipped ONNX model may itself be this forecast.
 */
export class NoChangePredictor implements Predictor {
  readonly name: string;
  readonly version: string;
  readonly featureVersion = FEATURE_VERSION;
  private readonly forecast: Readonly<Forecast>;

  constructor(
    readonly horizonSec: number,
    lowBps: number,
    highBps: number,
    name = "no-change",
    version = "1",
  ) {
    if (!(lowBps <= 0 && highBps >= 0))
      throw new Error(`no-change interval must contain 0, got [${lowBps}, ${highBps}]`);
    this.name = name;
    this.version = version;
    this.forecast = Object.freeze({ returnBps: 0, lowBps, highBps });
  }

  /** Constant forecast; never looks at the features. */
  predict(_features: Float32Array): Promise<Forecast> {
    return Promise.resolve({ ...this.forecast });
  }
}
