/**
 * Multi-horizon models: one feature vector in, one (point, low, high) triple per horizon out. The shipped one is an
 * ONNX graph (models/predict-v2.onnx, run by `createOnnxMultiModel` in onnx.ts); `NoChangeMultiModel` is the
 * fallback while it loads (and the shape every gated or no-change head reduces to).
 */
import { FEATURE_VERSION } from "../features/features.js";
import { assertCompatible } from "./predictor.js";
import type { HeadForecast, OnlineSlopeOptions } from "./horizon.js";

export interface MultiHorizonModel {
  /** Model name and version (feature version + content hash), sent with every forecast. */
  readonly name: string;
  readonly version: string;
  readonly featureVersion: string;
  /** Horizons in seconds, in the order `predict` returns them. */
  readonly horizonsSec: readonly number[];
  /** Per horizon: the point head is no-change by construction (it did not beat no-change out of sample). */
  readonly pointIsNoChange: readonly boolean[];
  /** Per horizon: online calibration of the point's magnitude, or null (absent: none anywhere). */
  readonly onlineSlope?: readonly (OnlineSlopeOptions | null)[];
  /** One forecast per horizon from one feature vector (length NUM_FEATURES). */
  predict(features: Float32Array): Promise<HeadForecast[]>;
}

/** One head in models/predict-v2.json: output names in the graph and the shipping decision behind it. */
interface MultiHeadMeta {
  readonly horizonSec: number;
  readonly outputs: { readonly returnBps: string; readonly lowBps: string; readonly highBps: string };
  /** Family that ships for the point ("no-change" or a model family) and the band ("constant" or a family). */
  readonly point: string;
  readonly onlineSlope?: OnlineSlopeOptions | null;
  readonly band: string;
  /** Constant no-change band (bps) for the fallback: the shipped constant band, or the pooled training one. */
  readonly fallbackBand: { readonly lowBps: number; readonly highBps: number };
}

/** Metadata written by training/export_multi.py beside the graph; the fields serving reads. */
export interface MultiModelMeta {
  readonly name: string;
  readonly version: string;
  readonly featureVersion: string;
  readonly featureNames: readonly string[];
  readonly onnx: { readonly file: string; readonly sha256: string; readonly input: { readonly name: string } };
  readonly heads: readonly MultiHeadMeta[];
}

/** Throw unless the model was trained on exactly the features this build computes (version, names, order). */
export function assertMultiCompatible(meta: Pick<MultiModelMeta, "name" | "featureVersion" | "featureNames">): void {
  assertCompatible(meta);
}

/** The no-change forecast for every horizon with a constant band per horizon (must contain 0). */
export class NoChangeMultiModel implements MultiHorizonModel {
  readonly featureVersion = FEATURE_VERSION;
  readonly horizonsSec: readonly number[];
  readonly pointIsNoChange: readonly boolean[];
  private readonly out: readonly HeadForecast[];

  constructor(
    bands: readonly { readonly horizonSec: number; readonly lowBps: number; readonly highBps: number }[],
    readonly name = "no-change",
    readonly version = "1",
  ) {
    for (const b of bands) {
      if (!(b.lowBps <= 0 && b.highBps >= 0))
        throw new Error(`no-change band must contain 0, got [${b.lowBps}, ${b.highBps}] at ${b.horizonSec} s`);
    }
    this.horizonsSec = bands.map((b) => b.horizonSec);
    this.pointIsNoChange = bands.map(() => true);
    this.out = bands.map((b) => Object.freeze({ returnBps: 0, lowBps: b.lowBps, highBps: b.highBps }));
  }

  /** Constant forecasts; never looks at the features. */
  predict(_features: Float32Array): Promise<HeadForecast[]> {
    return Promise.resolve(this.out.map((f) => ({ ...f })));
  }

  /** The fallback for a shipped multi-horizon model: its horizons, its constant bands. */
  static fallbackFor(meta: MultiModelMeta): NoChangeMultiModel {
    return new NoChangeMultiModel(
      meta.heads.map((h) => ({ horizonSec: h.horizonSec, ...h.fallbackBand })),
      "no-change-fallback",
      meta.version,
    );
  }
}
