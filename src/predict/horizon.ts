/**
 * Prequential (live) scoring, gating and band calibration of ONE forecast horizon.
 *
 * Order of events, which is what makes the score honest: a forecast is queued with everything that was SERVED
 * (point, calibrated band) and the model's own point; when its horizon has passed (the as-of rule of
 * src/features/asof.ts, the training target's) it is first scored, and only then do the conformal tracker and the
 * gate learn from its outcome, so no forecast is ever judged by a state that saw its own outcome.
 *
 * Optionally the point's magnitude is calibrated online per instrument (venues differ in how far the same signal moves
 * the price): served = lambda * model, lambda = (kappa + S_py) / (kappa + S_pp), a ridge estimate shrunk to 1 from
 * the realised outcomes only, exponentially forgotten (training/multi.py `online_slope` is the same rule, evaluated).
 *
 * Memory is bounded by construction: at most one forecast per `minIntervalMs`, so the pending queue holds
 * <= horizon / minInterval + 1 items and the rolling window <= window / minInterval + 1 (a fixed ring).
 */
import { asOfObserve, asOfPending, asOfPush, asOfReset, createAsOfQueue, type AsOfQueue } from "../features/asof.js";
import {
  calibrate,
  conformalUpdate,
  createConformal,
  type ConformalOptions,
  type ConformalState,
} from "./conformal.js";
import { createGate, gateUpdate, type GateOptions, type GateState } from "./gate.js";
import type { HorizonScore } from "../protocol.js";

/** What one head of the model said for one book (bps). */
export interface HeadForecast {
  readonly returnBps: number;
  readonly lowBps: number;
  readonly highBps: number;
}

/** What was served for one book, kept until the outcome is known. */
export interface ServedForecast {
  /** Served point (0 when no-change or gated). */
  readonly pointBps: number;
  /** The model's own point after online calibration (what an open gate serves; scored even when not served). */
  readonly modelBps: number;
  /** The model head's raw output (what the online slope learns from). */
  readonly rawBps: number;
  readonly lowBps: number;
  readonly highBps: number;
}

interface HorizonOptions {
  readonly horizonSec: number;
  /** The head is the no-change forecast by construction (shipped as such): never gated, no model skill. */
  readonly noChangeHead: boolean;
  /** Exchange ms between forecasts, at least (sizes the buffers; default 1000). */
  readonly minIntervalMs?: number;
  /** Rolling window of the live score, seconds (default max(600, 20 horizons)). */
  readonly windowSec?: number;
  readonly gate?: GateOptions;
  readonly conformal?: ConformalOptions;
  /** Online calibration of the point's magnitude (null/absent: served as the model says). */
  readonly onlineSlope?: OnlineSlopeOptions | null;
}

/** Parameters of the online slope (models/predict-v2.json `heads[].onlineSlope`). */
export interface OnlineSlopeOptions {
  /** Prior weight of lambda = 1, bps^2 (a number of typical forecasts times their mean square). */
  readonly kappaBps2: number;
  /** Half-life of the sums, in outcomes. */
  readonly halfLife: number;
}

interface SlopeState {
  readonly kappa: number;
  readonly decay: number;
  spy: number;
  spp: number;
}

/** Fixed-capacity ring of scored forecasts with running sums (oldest evicted first, by time or by capacity). */
interface Ring {
  readonly cap: number;
  readonly due: Float64Array;
  readonly se: Float64Array;
  readonly se0: Float64Array;
  readonly seModel: Float64Array;
  readonly ae: Float64Array;
  /** 1 hit, 0 miss, -1 not counted. */
  readonly hit: Int8Array;
  readonly covered: Uint8Array;
  readonly width: Float64Array;
  head: number;
  size: number;
  sums: {
    se: number;
    se0: number;
    seModel: number;
    ae: number;
    hits: number;
    directional: number;
    covered: number;
    width: number;
  };
}

export interface HorizonState {
  readonly horizonSec: number;
  readonly horizonMs: number;
  readonly windowMs: number;
  readonly noChangeHead: boolean;
  readonly queue: AsOfQueue<ServedForecast>;
  readonly ring: Ring;
  readonly conformal: ConformalState;
  readonly gate: GateState;
  readonly slope: SlopeState | null;
  totalScored: number;
}

function zeroSums(): Ring["sums"] {
  return { se: 0, se0: 0, seModel: 0, ae: 0, hits: 0, directional: 0, covered: 0, width: 0 };
}

/** State for one horizon. */
export function createHorizon(o: HorizonOptions): HorizonState {
  const minInterval = Math.max(1, o.minIntervalMs ?? 1000);
  const windowMs = (o.windowSec ?? Math.max(600, 20 * o.horizonSec)) * 1000;
  const cap = Math.ceil(windowMs / minInterval) + 2;
  return {
    horizonSec: o.horizonSec,
    horizonMs: o.horizonSec * 1000,
    windowMs,
    noChangeHead: o.noChangeHead,
    queue: createAsOfQueue<ServedForecast>(o.horizonSec, Math.ceil((o.horizonSec * 1000) / minInterval) + 2),
    ring: {
      cap,
      due: new Float64Array(cap),
      se: new Float64Array(cap),
      se0: new Float64Array(cap),
      seModel: new Float64Array(cap),
      ae: new Float64Array(cap),
      hit: new Int8Array(cap),
      covered: new Uint8Array(cap),
      width: new Float64Array(cap),
      head: 0,
      size: 0,
      sums: zeroSums(),
    },
    conformal: createConformal(o.conformal),
    gate: createGate(o.gate),
    slope:
      o.onlineSlope && !o.noChangeHead
        ? { kappa: o.onlineSlope.kappaBps2, decay: 0.5 ** (1 / o.onlineSlope.halfLife), spy: 0, spp: 0 }
        : null,
    totalScored: 0,
  };
}

function evictOldest(r: Ring): void {
  const i = r.head;
  const s = r.sums;
  s.se -= r.se[i]!;
  s.se0 -= r.se0[i]!;
  s.seModel -= r.seModel[i]!;
  s.ae -= r.ae[i]!;
  if (r.hit[i]! >= 0) {
    s.directional--;
    s.hits -= r.hit[i]!;
  }
  s.covered -= r.covered[i]!;
  s.width -= r.width[i]!;
  r.head = (r.head + 1) % r.cap;
  r.size--;
  if (r.size === 0) r.sums = zeroSums(); // exact zeros: rounding never accumulates across quiet periods
}

function pushScored(r: Ring, due: number, f: ServedForecast, y: number): void {
  if (r.size === r.cap) evictOldest(r);
  const i = (r.head + r.size) % r.cap;
  const e = y - f.pointBps;
  const em = y - f.modelBps;
  r.due[i] = due;
  r.se[i] = e * e;
  r.se0[i] = y * y;
  r.seModel[i] = em * em;
  r.ae[i] = Math.abs(e);
  r.hit[i] = y === 0 || f.pointBps === 0 ? -1 : Math.sign(y) === Math.sign(f.pointBps) ? 1 : 0;
  r.covered[i] = y >= f.lowBps && y <= f.highBps ? 1 : 0;
  r.width[i] = f.highBps - f.lowBps;
  r.size++;
  const s = r.sums;
  s.se += r.se[i]!;
  s.se0 += r.se0[i]!;
  s.seModel += r.seModel[i]!;
  s.ae += r.ae[i]!;
  if (r.hit[i]! >= 0) {
    s.directional++;
    s.hits += r.hit[i]!;
  }
  s.covered += r.covered[i]!;
  s.width += r.width[i]!;
}

/** Independent outcomes in the window: span of the scored forecasts' due times / horizon. */
function windows(h: HorizonState): number {
  const r = h.ring;
  if (r.size === 0) return 0;
  const first = r.due[r.head]!;
  const last = r.due[(r.head + r.size - 1) % r.cap]!;
  return (last - first) / h.horizonMs;
}

function skillOf(se: number, se0: number): number | null {
  return se0 > 0 ? 1 - se / se0 : null;
}

/** The online slope now (1 without one). */
export function pointScale(h: HorizonState): number {
  const s = h.slope;
  return s ? Math.min(50, Math.max(0, (s.kappa + s.spy) / (s.kappa + s.spp))) : 1;
}

/**
 * The forecast to serve for one head: calibrated band, and the model's (online-scaled) point unless the head is
 * no-change or gated.
 */
export function serve(h: HorizonState, f: HeadForecast): ServedForecast {
  const band = calibrate(h.conformal, f.lowBps, f.highBps);
  const model = h.noChangeHead ? 0 : pointScale(h) * f.returnBps;
  const usePoint = !h.noChangeHead && !h.gate.gated;
  return {
    pointBps: usePoint ? model : 0,
    modelBps: model,
    rawBps: h.noChangeHead ? 0 : f.returnBps,
    lowBps: band.low,
    highBps: band.high,
  };
}

/** Queue a served forecast made on the book at `ts` with mid `mid`. */
export function addServed(h: HorizonState, ts: number, mid: number, f: ServedForecast): void {
  asOfPush(h.queue, ts, mid, f);
}

/**
 * Feed every book (ts, mid). Forecasts whose horizon has passed are scored, THEN the conformal tracker and the gate
 * learn from them. Returns how many were scored.
 */
export function observeHorizon(h: HorizonState, ts: number, mid: number): number {
  const n = asOfObserve(h.queue, ts, mid, (it, realisedMid) => {
    const y = Math.log(realisedMid / it.mid) * 1e4;
    const r = h.ring;
    // window by due time: forecasts due more than windowMs before this one leave
    while (r.size > 0 && r.due[r.head]! < it.due - h.windowMs) evictOldest(r);
    pushScored(r, it.due, it.value, y);
    h.totalScored++;
    conformalUpdate(h.conformal, y, it.value.lowBps, it.value.highBps);
    const sl = h.slope;
    if (sl) {
      sl.spy = sl.spy * sl.decay + it.value.rawBps * y;
      sl.spp = sl.spp * sl.decay + it.value.rawBps * it.value.rawBps;
    }
    if (!h.noChangeHead) gateUpdate(h.gate, skillOf(r.sums.seModel, r.sums.se0), windows(h));
  });
  return n;
}

/** Forget pending forecasts (book dropped: the mid inside the gap is unknown). The window and calibration stay. */
export function dropPendingHorizon(h: HorizonState): void {
  asOfReset(h.queue);
}

/** Number of forecasts waiting for their horizon. */
export function pendingHorizon(h: HorizonState): number {
  return asOfPending(h.queue);
}

/** The rolling live score of this horizon (wire shape). */
export function horizonScore(h: HorizonState): HorizonScore {
  const r = h.ring;
  const s = r.sums;
  const n = r.size;
  const bandScale = { low: Math.exp(h.conformal.a), high: Math.exp(h.conformal.b) };
  const scale = h.slope ? pointScale(h) : null;
  if (n === 0) {
    return {
      horizonSec: h.horizonSec,
      count: 0,
      windows: 0,
      maeBps: 0,
      rmseBps: 0,
      baselineRmseBps: 0,
      skill: null,
      modelSkill: null,
      hitRate: null,
      coverage: null,
      meanWidthBps: null,
      gated: h.gate.gated,
      bandScale,
      pointScale: scale,
    };
  }
  const se = Math.max(0, s.se);
  const se0 = Math.max(0, s.se0);
  return {
    horizonSec: h.horizonSec,
    count: n,
    windows: windows(h),
    maeBps: Math.max(0, s.ae) / n,
    rmseBps: Math.sqrt(se / n),
    baselineRmseBps: Math.sqrt(se0 / n),
    skill: skillOf(se, se0),
    modelSkill: h.noChangeHead ? null : skillOf(Math.max(0, s.seModel), se0),
    hitRate: s.directional > 0 ? s.hits / s.directional : null,
    coverage: s.covered / n,
    meanWidthBps: s.width / n,
    gated: h.gate.gated,
    bandScale,
    pointScale: scale,
  };
}
