/**
 * Live scoring of forecasts: keeps each prediction until its horizon has passed, scores it against the realised
 * mid, and maintains rolling-window metrics (the `score` message on /ws/prediction), so users see whether the
 * model has skill right now rather than on a training set.
 *
 * The realised mid follows the training target exactly: both use the one as-of queue of src/features/asof.ts (the
 * mid of the last book with ts <= prediction ts + horizon, final once a book with a later ts arrives). Pure data plus
 * functions, exchange time only: the same stream always produces the same scores.
 *
 * Caveat for readers of the numbers: forecasts made every snapshot overlap heavily (a 60 s horizon at 20 books/s
 * is 1,200 forecasts per independent window), so `count` is not a number of independent observations.
 */
import { asOfObserve, asOfPending, asOfPush, asOfReset, createAsOfQueue, type AsOfQueue } from "../features/asof.js";
import type { ScoreMessage } from "../protocol.js";

export interface ScorerOptions {
  readonly horizonSec: number;
  /** Rolling window, seconds of exchange time, over the forecasts' due times (default 600). */
  readonly windowSec?: number;
  /** Forecasts waiting for their horizon beyond this are dropped oldest first (default 100,000). */
  readonly maxPending?: number;
}

/** One forecast as the predictor made it (returns in bps relative to `mid`). */
export interface ForecastInput {
  /** Exchange ts of the book the forecast was made on, Unix ms. */
  readonly ts: number;
  readonly mid: number;
  readonly returnBps: number;
  readonly lowBps: number;
  readonly highBps: number;
}

interface Scored {
  readonly due: number;
  readonly absErr: number;
  readonly sqErr: number;
  readonly sqBase: number;
  /** 1 hit, 0 miss, -1 not counted (no direction predicted or realised). */
  readonly hit: 1 | 0 | -1;
  readonly covered: 0 | 1;
}

export interface ScorerState {
  readonly horizonMs: number;
  readonly windowMs: number;
  /** Forecasts waiting for their horizon (the training target's queue). */
  readonly queue: AsOfQueue<ForecastInput>;
  scored: Scored[];
  scoredHead: number;
  /** Running sums over scored[scoredHead..]. */
  sumAbs: number;
  sumSq: number;
  sumSqBase: number;
  hits: number;
  directional: number;
  covered: number;
  /** Totals since creation, for logs. */
  totalScored: number;
  droppedPending: number;
}

/** Rolling metrics in bps, as sent in ScoreMessage (src/protocol.ts). Errors are 0 while `count` is 0. */
export type ScoreMetrics = Pick<ScoreMessage, "count" | "maeBps" | "rmseBps" | "baselineRmseBps" | "hitRate" | "coverage">;

/** A new scorer with nothing pending. */
export function createScorer(o: ScorerOptions): ScorerState {
  return {
    horizonMs: o.horizonSec * 1000,
    windowMs: (o.windowSec ?? 600) * 1000,
    queue: createAsOfQueue<ForecastInput>(o.horizonSec, o.maxPending ?? 100_000),
    scored: [],
    scoredHead: 0,
    sumAbs: 0,
    sumSq: 0,
    sumSqBase: 0,
    hits: 0,
    directional: 0,
    covered: 0,
    totalScored: 0,
    droppedPending: 0,
  };
}

/** Queue a forecast made on the book at `f.ts`. Forecasts must be added in ts order (they are, per snapshot). */
export function addForecast(s: ScorerState, f: ForecastInput): void {
  asOfPush(s.queue, f.ts, f.mid, { ts: f.ts, mid: f.mid, returnBps: f.returnBps, lowBps: f.lowBps, highBps: f.highBps });
  s.droppedPending = s.queue.dropped;
}

/** Score one forecast against the realised mid and add it to the window. */
function score(s: ScorerState, p: ForecastInput, due: number, realisedMid: number): void {
  const realised = Math.log(realisedMid / p.mid) * 1e4;
  const err = realised - p.returnBps;
  const hit: 1 | 0 | -1 = realised === 0 || p.returnBps === 0 ? -1 : Math.sign(realised) === Math.sign(p.returnBps) ? 1 : 0;
  const covered: 0 | 1 = realised >= p.lowBps && realised <= p.highBps ? 1 : 0;
  const sc: Scored = { due, absErr: Math.abs(err), sqErr: err * err, sqBase: realised * realised, hit, covered };
  s.scored.push(sc);
  s.sumAbs += sc.absErr;
  s.sumSq += sc.sqErr;
  s.sumSqBase += sc.sqBase;
  if (hit >= 0) {
    s.directional++;
    s.hits += hit;
  }
  s.covered += covered;
  s.totalScored++;
}

function evict(s: ScorerState, olderThan: number): void {
  while (s.scoredHead < s.scored.length && s.scored[s.scoredHead]!.due < olderThan) {
    const sc = s.scored[s.scoredHead++]!;
    s.sumAbs -= sc.absErr;
    s.sumSq -= sc.sqErr;
    s.sumSqBase -= sc.sqBase;
    if (sc.hit >= 0) {
      s.directional--;
      s.hits -= sc.hit;
    }
    s.covered -= sc.covered;
  }
  if (s.scoredHead === s.scored.length) {
    // Window empty: restart the sums from exact zeros so rounding never accumulates across quiet periods.
    s.scored = [];
    s.scoredHead = 0;
    s.sumAbs = s.sumSq = s.sumSqBase = 0;
    s.hits = s.directional = s.covered = 0;
  } else if (s.scoredHead > 1024 && s.scoredHead * 2 > s.scored.length) {
    s.scored = s.scored.slice(s.scoredHead);
    s.scoredHead = 0;
  }
}

/**
 * Feed the book at `ts` with mid `mid` (call on every book change, before or after adding that book's forecast).
 * Forecasts whose horizon ended strictly before `ts` are scored against the previous book's mid. Returns how many
 * forecasts were scored by this call (send a fresh ScoreMessage when it is > 0).
 */
export function observeMid(s: ScorerState, ts: number, mid: number): number {
  const n = asOfObserve(s.queue, ts, mid, (it, realisedMid) => score(s, it.value, it.due, realisedMid));
  s.droppedPending = s.queue.dropped;
  if (n > 0) evict(s, s.scored[s.scored.length - 1]!.due - s.windowMs);
  return n;
}

/**
 * Forget the forecasts still waiting (call when the book was dropped and resynced: the mid inside the gap is
 * unknown, so they cannot be scored honestly). The rolling window is kept.
 */
export function dropPending(s: ScorerState): void {
  asOfReset(s.queue);
  s.droppedPending = s.queue.dropped;
}

/** Number of forecasts waiting for their horizon. */
export function pendingCount(s: ScorerState): number {
  return asOfPending(s.queue);
}

/** Current rolling metrics. */
export function scoreMetrics(s: ScorerState): ScoreMetrics {
  const count = s.scored.length - s.scoredHead;
  if (count === 0) return { count: 0, maeBps: 0, rmseBps: 0, baselineRmseBps: 0, hitRate: null, coverage: null };
  return {
    count,
    maeBps: Math.max(0, s.sumAbs) / count,
    rmseBps: Math.sqrt(Math.max(0, s.sumSq) / count),
    baselineRmseBps: Math.sqrt(Math.max(0, s.sumSqBase) / count),
    hitRate: s.directional > 0 ? s.hits / s.directional : null,
    coverage: s.covered / count,
  };
}

/** The ScoreMessage for the current window (build once, serialize once, send to every client). */
export function scoreMessage(s: ScorerState, instId: string, ts: number, model: { name: string; version: string }): ScoreMessage {
  return { type: "score", instId, ts, horizonSec: s.horizonMs / 1000, ...scoreMetrics(s), model: { name: model.name, version: model.version } };
}
