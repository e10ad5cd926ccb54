/**
 * The ONE implementation of the prediction feature vector, computed from the L2 book stream.
 *
 * The relay Durable Object calls `updateFeatures` after every applied book change, and `npm run features` runs the
 * very same function over a capture to produce the training rows, so serving and training can never drift apart
 * (Python never recomputes a feature; it reads the CSV this code wrote).
 *
 * State is plain data (numbers and typed arrays) mutated in place, like the book itself. Windows are in exchange
 * time (`book.ts`, Unix ms), not message counts, because message rates vary by instrument and by minute.
 *
 * Cost per snapshot: O(25) for the depth sums plus amortised O(1) for the windows. The window history is one
 * ring of events (ts, log mid, cumulative OFI / L1 depth / squared returns) with one "as-of" pointer per window
 * that only moves forward; window sums are differences of cumulative sums. The buffers grow by doubling only
 * until they hold the longest window's worth of events, then get reused.
 */
import type { Level } from "../okx/book.js";

/**
 * Bump whenever a feature's definition, order or units change: a model is only valid for the version it was trained on.
 * `bt-f2`: book-f1's 16 book features unchanged, then realised volatility over 10 s / 300 s and trade-flow features.
 */
export const FEATURE_VERSION = "bt-f2";

/** Look-back windows (seconds of exchange time) for returns and order-flow imbalance. */
export const WINDOWS_SEC = [1, 5, 30, 60] as const;
/** Realised volatility windows (seconds): `rv_60s` (book-f1's), then `rv_10s`, `rv_300s`. */
const RV_WINDOWS_SEC = [60, 10, 300] as const;
/** Trade-flow windows (seconds) for the signed volume imbalance and the trade count. */
export const TRADE_WINDOWS_SEC = [5, 30, 60] as const;
/** `last_trade_bps` is neutral (0) when the last trade is older than this (seconds of exchange time). */
const LAST_TRADE_MAX_AGE_SEC = 60;
/** Trades kept while no book arrives to advance the windows: beyond this the oldest are forgotten (memory bound). */
export const TRADE_HISTORY_CAP = 1 << 16;
/** Depth-imbalance levels per side. */
export const DEPTH_LEVELS = [5, 10, 25] as const;
/** `since_mid_change_s` is capped here so a quiet book does not produce an unbounded input. */
export const SINCE_CHANGE_CAP_SEC = 60;

/**
 * Feature names in vector order. Units:
 * - `spread_bps`: (best ask - best bid) / mid, bps.
 * - `microprice_bps`: (microprice - mid) / mid, bps; microprice = (bid * askSz + ask * bidSz) / (bidSz + askSz).
 * - `imb_l1`, `imb_5`, `imb_10`, `imb_25`: (bid size - ask size) / (bid size + ask size) over the top N levels, in [-1, 1].
 * - `ret_Ns`: log return of the mid since the last book at or before ts - N s, bps (since the first book while the
 *   history is shorter than N s).
 * - `ofi_Ns`: Cont-Kukanov-Stoikov order-flow imbalance at L1 summed over the window, divided by the mean L1 depth
 *   ((bidSz + askSz) / 2) of the same events, i.e. in units of "average L1 queues".
 * - `rv_60s`: sqrt of the sum of squared mid log returns (bps) over the window, bps.
 * - `since_mid_change_s`: seconds since the mid last changed, capped at 60.
 * - `rv_10s`, `rv_300s`: as `rv_60s` over 10 s / 300 s.
 * - `tflow_Ns`: signed trade volume imbalance (buy volume - sell volume) / (buy + sell volume) of the trades received
 *   with ts in (now - N s, ...], in [-1, 1]; `side` is the taker's. Neutral 0 when there were none.
 * - `tcount_Ns`: ln(1 + number of those trades). Neutral 0 (no trades).
 * - `last_trade_bps`: (price of the last trade received - mid) / mid, bps, when that trade is at most 60 s old; else
 *   the neutral 0.
 * A book-only stream (no `trades` channel) gets the neutral value in every trade feature, so the same model runs on it.
 */
export const FEATURE_NAMES = [
  "spread_bps",
  "microprice_bps",
  "imb_l1",
  "imb_5",
  "imb_10",
  "imb_25",
  "ret_1s",
  "ret_5s",
  "ret_30s",
  "ret_60s",
  "ofi_1s",
  "ofi_5s",
  "ofi_30s",
  "ofi_60s",
  "rv_60s",
  "since_mid_change_s",
  "rv_10s",
  "rv_300s",
  "tflow_5s",
  "tflow_30s",
  "tflow_60s",
  "tcount_5s",
  "tcount_30s",
  "tcount_60s",
  "last_trade_bps",
] as const;

export type FeatureName = (typeof FEATURE_NAMES)[number];
export const NUM_FEATURES = FEATURE_NAMES.length;

/** Index of each feature in the vector. */
export const F = Object.fromEntries(FEATURE_NAMES.map((n, i) => [n, i])) as { readonly [K in FeatureName]: number };

/** Anything `updateFeatures` can write into: a Float32Array goes straight to the predictor, a Float64Array to the CSV. */
export type FeatureVector = Float32Array | Float64Array | number[];

/** The book fields the features read (the relay's `Book` qualifies). */
export interface BookView {
  readonly bids: readonly Pick<Level, "price" | "size">[];
  readonly asks: readonly Pick<Level, "price" | "size">[];
  /** Exchange timestamp, Unix ms. */
  readonly ts: number;
}

/** One trade as the features read it (`parseOkxTrade` builds it from OKX's strings). */
export interface TradeView {
  readonly px: number;
  readonly sz: number;
  /** Taker side. */
  readonly side: "buy" | "sell";
  /** Exchange timestamp, Unix ms. */
  readonly ts: number;
}

/** Incremental feature state for one instrument: plain data, mutated in place by `updateFeatures`. */
export interface FeatureState {
  /** Event history, valid in [start, end). Parallel arrays, reallocated only when full. */
  ts: Float64Array;
  logMid: Float64Array;
  /** Cumulative sums up to and including each event (the first event's increments are 0 / its own depth). */
  cumOfi: Float64Array;
  cumDepth: Float64Array;
  cumSq: Float64Array;
  start: number;
  end: number;
  /** Per window in WINDOWS_SEC: index of the last event with ts <= now - window, or -1 while there is none. */
  asOf: Int32Array;
  /** Same for RV_WINDOWS_SEC. */
  asOfRv: Int32Array;
  /** Trade history, valid in [tStart, tEnd): ts (made non-decreasing) and cumulative buy / sell volume. */
  tTs: Float64Array;
  tCumBuy: Float64Array;
  tCumSell: Float64Array;
  tStart: number;
  tEnd: number;
  /** Per window in TRADE_WINDOWS_SEC: index of the last trade with ts <= now - window, or -1. */
  tAsOf: Int32Array;
  lastTradePx: number;
  lastTradeTs: number;
  /** Trades folded in since creation / reset. */
  trades: number;
  /** L1 of the previous event (for OFI); NaN before the first. */
  prevBidPx: number;
  prevBidSz: number;
  prevAskPx: number;
  prevAskSz: number;
  lastTs: number;
  lastMidChangeTs: number;
  /** Number of snapshots folded in since creation / reset. */
  count: number;
}

const INITIAL_CAPACITY = 1024;

/** A new, empty feature state. */
export function createFeatureState(capacity = INITIAL_CAPACITY): FeatureState {
  const cap = Math.max(16, capacity);
  return {
    ts: new Float64Array(cap),
    logMid: new Float64Array(cap),
    cumOfi: new Float64Array(cap),
    cumDepth: new Float64Array(cap),
    cumSq: new Float64Array(cap),
    start: 0,
    end: 0,
    asOf: new Int32Array(WINDOWS_SEC.length).fill(-1),
    asOfRv: new Int32Array(RV_WINDOWS_SEC.length).fill(-1),
    tTs: new Float64Array(cap),
    tCumBuy: new Float64Array(cap),
    tCumSell: new Float64Array(cap),
    tStart: 0,
    tEnd: 0,
    tAsOf: new Int32Array(TRADE_WINDOWS_SEC.length).fill(-1),
    lastTradePx: NaN,
    lastTradeTs: -Infinity,
    trades: 0,
    prevBidPx: NaN,
    prevBidSz: NaN,
    prevAskPx: NaN,
    prevAskSz: NaN,
    lastTs: -Infinity,
    lastMidChangeTs: NaN,
    count: 0,
  };
}

/**
 * Forget all history (keeps the buffers). Call when the book was dropped and resynced: order flow across the gap is
 * unknown, so windows restart rather than mixing two unrelated books.
 */
export function resetFeatureState(s: FeatureState): void {
  s.start = 0;
  s.end = 0;
  s.asOf.fill(-1);
  s.asOfRv.fill(-1);
  s.tStart = 0;
  s.tEnd = 0;
  s.tAsOf.fill(-1);
  s.lastTradePx = NaN;
  s.lastTradeTs = -Infinity;
  s.trades = 0;
  s.prevBidPx = s.prevBidSz = s.prevAskPx = s.prevAskSz = NaN;
  s.lastTs = -Infinity;
  s.lastMidChangeTs = NaN;
  s.count = 0;
}

/** Make room for one more event: compact when the live part is at most half the buffer, else double it. */
function ensureCapacity(s: FeatureState): void {
  const cap = s.ts.length;
  if (s.end < cap) return;
  const live = s.end - s.start;
  const shift = s.start;
  if (live <= cap >> 1) {
    for (const a of [s.ts, s.logMid, s.cumOfi, s.cumDepth, s.cumSq]) a.copyWithin(0, shift, s.end);
  } else {
    const grow = (a: Float64Array): Float64Array => {
      const b = new Float64Array(cap * 2);
      b.set(a.subarray(shift, s.end));
      return b;
    };
    s.ts = grow(s.ts);
    s.logMid = grow(s.logMid);
    s.cumOfi = grow(s.cumOfi);
    s.cumDepth = grow(s.cumDepth);
    s.cumSq = grow(s.cumSq);
  }
  s.start = 0;
  s.end = live;
  for (const ptrs of [s.asOf, s.asOfRv])
    for (let i = 0; i < ptrs.length; i++) if (ptrs[i]! >= 0) ptrs[i] = ptrs[i]! - shift;
}

/** `ensureCapacity` for the trade history. */
function ensureTradeCapacity(s: FeatureState): void {
  const cap = s.tTs.length;
  if (s.tEnd < cap) return;
  let live = s.tEnd - s.tStart;
  if (live >= TRADE_HISTORY_CAP) {
    // No book has advanced the windows for a long time: forget the older half (the windows then undercount).
    s.tStart += live >> 1;
    for (let i = 0; i < s.tAsOf.length; i++) s.tAsOf[i] = Math.max(s.tAsOf[i]!, s.tStart);
    live = s.tEnd - s.tStart;
  }
  const shift = s.tStart;
  if (live <= cap >> 1) {
    for (const a of [s.tTs, s.tCumBuy, s.tCumSell]) a.copyWithin(0, shift, s.tEnd);
  } else {
    const grow = (a: Float64Array): Float64Array => {
      const b = new Float64Array(cap * 2);
      b.set(a.subarray(shift, s.tEnd));
      return b;
    };
    s.tTs = grow(s.tTs);
    s.tCumBuy = grow(s.tCumBuy);
    s.tCumSell = grow(s.tCumSell);
  }
  s.tStart = 0;
  s.tEnd = live;
  for (let i = 0; i < s.tAsOf.length; i++) if (s.tAsOf[i]! >= 0) s.tAsOf[i] = s.tAsOf[i]! - shift;
}

/**
 * Parse one OKX `trades` item (numbers as strings). Returns null for a malformed trade (non-finite or non-positive
 * price or size, unknown side, bad ts), which the caller counts and skips: a bad trade never breaks the book.
 */
export function parseOkxTrade(d: {
  readonly px?: unknown;
  readonly sz?: unknown;
  readonly side?: unknown;
  readonly ts?: unknown;
}): TradeView | null {
  const px = typeof d.px === "string" ? Number(d.px) : NaN;
  const sz = typeof d.sz === "string" ? Number(d.sz) : NaN;
  const ts = typeof d.ts === "string" ? Number(d.ts) : NaN;
  if (!(px > 0 && px < Infinity && sz > 0 && sz < Infinity && Number.isSafeInteger(ts))) return null;
  if (d.side !== "buy" && d.side !== "sell") return null;
  return { px, sz, side: d.side, ts };
}

/**
 * Fold one trade into `s` (call for every trade of the instrument, in the order received, between the books).
 * Trade features are only written by the next `updateFeatures`: rows are per book, as in training. A trade whose ts
 * goes backwards is treated as the last trade's ts.
 */
export function updateTrades(s: FeatureState, t: TradeView): void {
  ensureTradeCapacity(s);
  const i = s.tEnd;
  const first = i === s.tStart;
  const ts = first ? t.ts : Math.max(t.ts, s.tTs[i - 1]!);
  s.tTs[i] = ts;
  s.tCumBuy[i] = (first ? 0 : s.tCumBuy[i - 1]!) + (t.side === "buy" ? t.sz : 0);
  s.tCumSell[i] = (first ? 0 : s.tCumSell[i - 1]!) + (t.side === "sell" ? t.sz : 0);
  s.tEnd = i + 1;
  s.lastTradePx = t.px;
  s.lastTradeTs = ts;
  s.trades++;
}

/** Move a trade as-of pointer forward to the last trade with ts <= cutoff. */
function advanceTrades(s: FeatureState, ptr: number, cutoff: number): number {
  let p = ptr < s.tStart ? s.tStart - 1 : ptr;
  while (p + 1 < s.tEnd && s.tTs[p + 1]! <= cutoff) p++;
  return p >= s.tStart ? p : -1;
}

/** Move an as-of pointer forward to the last event with ts <= cutoff (never past `last`). */
function advance(s: FeatureState, ptr: number, cutoff: number, last: number): number {
  let p = ptr < s.start ? s.start - 1 : ptr;
  while (p + 1 < last && s.ts[p + 1]! <= cutoff) p++;
  return p >= s.start ? p : -1;
}

function depthImbalance(bids: BookView["bids"], asks: BookView["asks"], n: number): number {
  let b = 0;
  let a = 0;
  const nb = Math.min(n, bids.length);
  const na = Math.min(n, asks.length);
  for (let i = 0; i < nb; i++) b += bids[i]!.size;
  for (let i = 0; i < na; i++) a += asks[i]!.size;
  return b + a > 0 ? (b - a) / (b + a) : 0;
}

/**
 * Fold one book snapshot (the book after an applied change, with its exchange ts) into `s` and write the feature
 * vector, in FEATURE_NAMES order, into `out` (length >= NUM_FEATURES). Returns false, writing nothing and
 * recording nothing, when a side of the book is empty (no mid). Timestamps must not go backwards; one that does is
 * treated as the last seen ts.
 */
export function updateFeatures(s: FeatureState, book: BookView, out: FeatureVector): boolean {
  const bb = book.bids[0];
  const ba = book.asks[0];
  if (bb === undefined || ba === undefined) return false;
  const now = Math.max(book.ts, s.lastTs);
  const bidPx = bb.price;
  const bidSz = bb.size;
  const askPx = ba.price;
  const askSz = ba.size;
  const midPx = (bidPx + askPx) / 2;
  const lm = Math.log(midPx);

  // Cont, Kukanov & Stoikov (2014) L1 order-flow imbalance of this event vs the previous one.
  let ofi = 0;
  let sq = 0;
  const first = s.end === s.start;
  if (!first) {
    const pb = s.prevBidPx;
    const pa = s.prevAskPx;
    ofi =
      (bidPx >= pb ? bidSz : 0) -
      (bidPx <= pb ? s.prevBidSz : 0) -
      (askPx <= pa ? askSz : 0) +
      (askPx >= pa ? s.prevAskSz : 0);
    const r = (lm - s.logMid[s.end - 1]!) * 1e4;
    sq = r * r;
    if (lm !== s.logMid[s.end - 1]!) s.lastMidChangeTs = now;
  } else {
    s.lastMidChangeTs = now;
  }

  ensureCapacity(s);
  const i = s.end;
  const prev = i - 1;
  s.ts[i] = now;
  s.logMid[i] = lm;
  const depth = (bidSz + askSz) / 2;
  s.cumOfi[i] = (first ? 0 : s.cumOfi[prev]!) + ofi;
  s.cumDepth[i] = (first ? 0 : s.cumDepth[prev]!) + depth;
  s.cumSq[i] = (first ? 0 : s.cumSq[prev]!) + sq;
  s.end = i + 1;
  s.prevBidPx = bidPx;
  s.prevBidSz = bidSz;
  s.prevAskPx = askPx;
  s.prevAskSz = askSz;
  s.lastTs = now;
  s.count++;

  // L1 and depth shape.
  out[0] = ((askPx - bidPx) / midPx) * 1e4;
  const micro = (bidPx * askSz + askPx * bidSz) / (bidSz + askSz);
  out[1] = ((micro - midPx) / midPx) * 1e4;
  out[2] = (bidSz - askSz) / (bidSz + askSz);
  out[3] = depthImbalance(book.bids, book.asks, DEPTH_LEVELS[0]);
  out[4] = depthImbalance(book.bids, book.asks, DEPTH_LEVELS[1]);
  out[5] = depthImbalance(book.bids, book.asks, DEPTH_LEVELS[2]);

  // Windows. A pointer of -1 means the history is shorter than the window: measure from the first event instead,
  // whose cumulative increments are 0 (OFI, squared returns) or its own depth (counted via `n`).
  const nw = WINDOWS_SEC.length;
  for (let w = 0; w < nw; w++) {
    const p = advance(s, s.asOf[w]!, now - WINDOWS_SEC[w]! * 1000, i);
    s.asOf[w] = p;
    const base = p >= 0 ? p : s.start;
    out[6 + w] = (lm - s.logMid[base]!) * 1e4;
    const n = p >= 0 ? i - p : i - s.start + 1;
    const sumDepth = s.cumDepth[i]! - (p >= 0 ? s.cumDepth[p]! : 0);
    const sumOfi = s.cumOfi[i]! - (p >= 0 ? s.cumOfi[p]! : 0);
    const meanDepth = sumDepth / n;
    out[6 + nw + w] = meanDepth > 0 ? sumOfi / meanDepth : 0;
  }
  const rv = (k: number): number => {
    const pr = advance(s, s.asOfRv[k]!, now - RV_WINDOWS_SEC[k]! * 1000, i);
    s.asOfRv[k] = pr;
    return Math.sqrt(Math.max(0, s.cumSq[i]! - (pr >= 0 ? s.cumSq[pr]! : 0)));
  };
  out[6 + 2 * nw] = rv(0);
  out[7 + 2 * nw] = Math.min(SINCE_CHANGE_CAP_SEC, (now - s.lastMidChangeTs) / 1000);
  out[F.rv_10s] = rv(1);
  out[F.rv_300s] = rv(2);

  // Trades received so far with ts > now - window (all of them are known at this point: no look-ahead).
  const ntw = TRADE_WINDOWS_SEC.length;
  const tl = s.tEnd - 1;
  for (let w = 0; w < ntw; w++) {
    const p = advanceTrades(s, s.tAsOf[w]!, now - TRADE_WINDOWS_SEC[w]! * 1000);
    s.tAsOf[w] = p;
    const buy = tl >= s.tStart ? s.tCumBuy[tl]! - (p >= 0 ? s.tCumBuy[p]! : 0) : 0;
    const sell = tl >= s.tStart ? s.tCumSell[tl]! - (p >= 0 ? s.tCumSell[p]! : 0) : 0;
    const n = p >= 0 ? tl - p : s.tEnd - s.tStart;
    out[F.tflow_5s + w] = buy + sell > 0 ? (buy - sell) / (buy + sell) : 0;
    out[F.tcount_5s + w] = Math.log1p(n);
  }
  out[F.last_trade_bps] =
    s.lastTradeTs > now - LAST_TRADE_MAX_AGE_SEC * 1000 ? ((s.lastTradePx - midPx) / midPx) * 1e4 : 0;

  // Drop history no window can reach any more: everything before the oldest as-of event. The oldest pointer is
  // kept because it is the reference (mid, cumulative sums) of the longest window.
  let oldest = Infinity;
  for (const ptrs of [s.asOf, s.asOfRv]) for (let w = 0; w < ptrs.length; w++) oldest = Math.min(oldest, ptrs[w]!);
  if (oldest > s.start) s.start = oldest;
  let tOldest = Infinity;
  for (let w = 0; w < ntw; w++) tOldest = Math.min(tOldest, s.tAsOf[w]!);
  if (tOldest > s.tStart) s.tStart = tOldest;
  return true;
}
