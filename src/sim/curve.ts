/**
 * Cost curve and reverse query over ONE pass of cumulative depth.
 *
 * `depthProfile` walks the consumed side once and keeps prefix sums (book units, base, quote). Every size of a
 * cost curve is then answered by a binary search into them, with the same conversions, lot rounding, minimum size
 * and price bound as `fillMarketOrder` (a test checks the curve equals N single calls on real books). The reverse
 * query `largestWithinSlippage` finds the largest lot-multiple size whose average price stays within a bound of
 * the mid, solving the boundary inside the level where it falls in closed form.
 */
import { floorToLot, type FillSpec, type OrderUnit, type PriceLevel } from "./fill.js";

/** Prefix sums over a side: index i holds the totals of levels 0..i-1. */
export interface DepthProfile {
  readonly levels: readonly PriceLevel[];
  readonly k: number;
  readonly inverse: boolean;
  readonly spot: boolean;
  /** Levels that may fill (a price limit or px cuts the rest). */
  readonly usable: number;
  readonly units: Float64Array;
  readonly base: Float64Array;
  readonly quote: Float64Array;
}

/** Build the prefix sums of `levels` (best first) in one pass. */
export function depthProfile(levels: readonly PriceLevel[], spec: FillSpec, usable = levels.length): DepthProfile {
  const spot = spec.instType === "SPOT" || spec.instType === "MARGIN";
  const inverse = !spot && spec.ctType === "inverse";
  const k = spot ? 1 : spec.ctVal * spec.ctMult;
  const n = levels.length;
  const units = new Float64Array(n + 1);
  const base = new Float64Array(n + 1);
  const quote = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) {
    const { price, size } = levels[i]!;
    units[i + 1] = units[i]! + size;
    // Same per-level arithmetic as the single walk, so the sums agree with it.
    if (inverse) {
      quote[i + 1] = quote[i]! + size * k;
      base[i + 1] = base[i]! + (size * k) / price;
    } else {
      base[i + 1] = base[i]! + size * k;
      quote[i + 1] = quote[i]! + size * k * price;
    }
  }
  return { levels, k, inverse, spot, usable: Math.min(usable, n), units, base, quote };
}

/** One point of a curve: what an order of `amount` (in the request's unit) fills. */
export interface CurvePoint {
  readonly ok: true;
  readonly amount: number;
  /** OKX `sz` in book units after lot rounding. */
  readonly orderBookUnits: number;
  readonly filledBookUnits: number;
  readonly filledBase: number;
  readonly filledQuote: number;
  /** null when nothing fills. */
  readonly avgPrice: number | null;
  readonly levelsConsumed: number;
  readonly fullyFilled: boolean;
}

/** A size the rules refuse (below one lot or minSz). */
export interface CurveReject {
  readonly ok: false;
  readonly amount: number;
  readonly code: "below_lot_size" | "below_min_size";
}

/** Smallest i in [lo, hi] with arr[i] >= x (hi when none). */
function lowerBound(arr: Float64Array, x: number, lo: number, hi: number): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (arr[mid]! >= x) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Fill `order` book units against the usable levels of a profile. */
export function fillBookUnits(
  p: DepthProfile,
  order: number,
  lot: number,
): Omit<CurvePoint, "ok" | "amount" | "orderBookUnits"> {
  const tol = lot * 1e-9;
  const u = p.usable;
  if (u === 0)
    return { filledBookUnits: 0, filledBase: 0, filledQuote: 0, avgPrice: null, levelsConsumed: 0, fullyFilled: false };
  // First level whose cumulative size reaches the order (within the walk's tolerance).
  const j = lowerBound(p.units, order - tol, 1, u);
  if (p.units[j]! < order - tol) {
    // The usable levels run out (as in the single walk: sizes cleaned of binary noise, base exact for linear).
    const units = +p.units[u]!.toPrecision(15);
    const base = p.inverse ? p.base[u]! : +(units * p.k).toPrecision(15);
    return {
      filledBookUnits: units,
      filledBase: base,
      filledQuote: p.quote[u]!,
      avgPrice: avgOf(p, u, p.quote[u]! / base),
      levelsConsumed: u,
      fullyFilled: false,
    };
  }
  const l = p.levels[j - 1]!;
  const take = order - p.units[j - 1]!;
  let base: number;
  let quote: number;
  if (p.inverse) {
    quote = p.quote[j - 1]! + take * p.k;
    base = p.base[j - 1]! + (take * p.k) / l.price;
  } else {
    quote = p.quote[j - 1]! + take * p.k * l.price;
    base = +(order * p.k).toPrecision(15);
  }
  return {
    filledBookUnits: order,
    filledBase: base,
    filledQuote: quote,
    avgPrice: avgOf(p, j, quote / base),
    levelsConsumed: j,
    fullyFilled: true,
  };
}

/** The VWAP clamped between the best and the worst level touched, as the single walk does. */
function avgOf(p: DepthProfile, used: number, avg: number): number {
  const best = p.levels[0]!.price;
  const worst = p.levels[used - 1]!.price;
  if (used === 1) return best;
  return best <= worst ? Math.min(Math.max(avg, best), worst) : Math.max(Math.min(avg, best), worst);
}

/**
 * Book units for `amount` in `unit` (price-dependent units solved on the whole side, like the single walk);
 * `exhausted` when even the whole side is less than the amount (the order is then not fully filled).
 */
function targetUnits(p: DepthProfile, unit: OrderUnit, amount: number): { units: number; exhausted: boolean } {
  if (unit === "contracts") return { units: amount, exhausted: false };
  if (unit === "base" && !p.inverse) return { units: amount / p.k, exhausted: false };
  if (unit === "quote" && p.inverse) return { units: amount / p.k, exhausted: false };
  const val = p.inverse ? p.base : p.quote;
  const n = p.levels.length;
  const j = lowerBound(val, amount, 1, n);
  if (val[j]! < amount) return { units: p.units[n]!, exhausted: true };
  const l = p.levels[j - 1]!;
  const per = p.inverse ? p.k / l.price : p.k * l.price;
  return { units: p.units[j - 1]! + (amount - val[j - 1]!) / per, exhausted: false };
}

/**
 * The cost curve: each amount (in `unit`) filled under the same rules as a single order, in the order given.
 * `noLotRounding` as in FillOptions (spot market orders sized in quote).
 */
export function costCurve(
  p: DepthProfile,
  spec: FillSpec,
  unit: OrderUnit,
  amounts: readonly number[],
  noLotRounding = false,
): (CurvePoint | CurveReject)[] {
  return amounts.map((amount) => {
    const { units: target, exhausted } = targetUnits(p, unit, amount);
    const order = noLotRounding ? target : floorToLot(target, spec.lotSz);
    if (!(order > 0)) return { ok: false, amount, code: "below_lot_size" } as const;
    if (order < spec.minSz * (1 - 1e-9)) return { ok: false, amount, code: "below_min_size" } as const;
    const f = fillBookUnits(p, order, spec.lotSz);
    return { ok: true, amount, orderBookUnits: order, ...f, fullyFilled: f.fullyFilled && !exhausted } as const;
  });
}

/**
 * Largest order (book units, a multiple of lotSz, at least minSz, else 0) whose average price stays within
 * `maxBps` of `mid` (cost-signed: above mid for a buy, below for a sell), over the usable levels. Inside the level
 * where the bound is crossed the size solves avg(q) = A exactly: for spot/linear (Q + q k p) = A (B + q k), for
 * inverse (Q + q k) = A (B + q k / p), with Q, B the quote and base taken before that level.
 */
export function largestWithinSlippage(
  p: DepthProfile,
  spec: FillSpec,
  side: "buy" | "sell",
  mid: number,
  maxBps: number,
): number {
  const s = side === "buy" ? 1 : -1;
  const a = mid * (1 + (s * maxBps) / 1e4);
  let q = 0;
  for (let i = 0; i < p.usable; i++) {
    const { price, size } = p.levels[i]!;
    if (s * (price - a) <= 0) {
      q += size;
      continue;
    }
    const bq = p.base[i]!;
    const qq = p.quote[i]!;
    const room = p.inverse ? (a * bq - qq) / (p.k * (1 - a / price)) : (a * bq - qq) / (p.k * (price - a));
    if (room >= size) {
      q += size;
      continue;
    }
    q += room > 0 ? room : 0;
    break;
  }
  let order = floorToLot(q, spec.lotSz);
  // Guard the last ulp: the floored size must really be within the bound.
  while (order > 0) {
    const f = fillBookUnits(p, order, spec.lotSz);
    if (f.avgPrice !== null && s * (f.avgPrice - a) <= a * 1e-12) break;
    order = floorToLot(order - spec.lotSz, spec.lotSz);
  }
  return order >= spec.minSz * (1 - 1e-9) ? order : 0;
}

/**
 * Sizes for a cost curve (the UI sends them as `sizes`): `count` points from `minSize` (at least one `step`) to
 * `maxSize`, geometric, each a multiple of `step`, sorted and unique.
 */
export function curveSizes(minSize: number, maxSize: number, step: number, count = 24): number[] {
  const lo = Math.max(minSize, step);
  const hi = Math.max(maxSize, lo * 2);
  const out = new Set<number>();
  for (let i = 0; i < count; i++) {
    const x = lo * (hi / lo) ** (i / (count - 1));
    const snapped = Math.max(lo, Math.round(x / step) * step);
    out.add(Number(snapped.toPrecision(12)));
  }
  return [...out].sort((a, b) => a - b);
}
