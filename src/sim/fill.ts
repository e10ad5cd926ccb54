/**
 * Walk-the-book fill of a market order: pure arithmetic over plain sorted levels.
 *
 * Units. Levels are in the book's NATIVE units, exactly as OKX publishes them: sizes in contracts for
 * derivatives and in the base currency for spot; prices in the quote currency per base unit. With
 * k = ctVal * ctMult (1 for spot), one book unit at price p is worth
 *   spot / linear:  base = k,      quote = k * p      (ctVal is in the base coin, e.g. 0.01 BTC)
 *   inverse:        base = k / p,  quote = k          (ctVal is in USD, e.g. 100 USD; the coin amount depends on p)
 * so the average price of any fill is filledQuote / filledBase: the size-weighted mean for spot/linear and the
 * contract-weighted HARMONIC mean for inverse contracts, which is how OKX averages inverse fills.
 *
 * Order size may be given in base, contracts or quote notional. Conversions that do not depend on price
 * (contracts; base for spot/linear; quote for inverse) are exact; the others (quote for spot/linear, base for
 * inverse) are solved by walking the book. The size in book units is then rounded DOWN to a multiple of lotSz
 * (never up: a simulator must not spend more than asked) and checked against minSz.
 *
 * Performance: two passes at most over the consumed levels, no allocation besides the result object.
 */
import type { CtType, InstType } from "./instruments.js";

/** One price level: price in quote currency, size in book units (contracts or base). */
export interface PriceLevel {
  readonly price: number;
  readonly size: number;
}

export type OrderUnit = "base" | "contracts" | "quote";

/** The part of an instrument spec the fill needs. */
export interface FillSpec {
  readonly instType: InstType;
  readonly ctType: CtType;
  readonly ctVal: number;
  readonly ctMult: number;
  readonly lotSz: number;
  readonly minSz: number;
}

export interface FillResult {
  readonly ok: true;
  /** Book units of the order before lot rounding (for a price-dependent size: what the book could take, capped at its depth). */
  readonly targetBookUnits: number;
  /** Book units actually sent after rounding DOWN to lotSz. */
  readonly orderBookUnits: number;
  /** targetBookUnits - orderBookUnits (>= 0). */
  readonly lotRoundedOffBookUnits: number;
  readonly lotRoundingApplied: boolean;
  /** Filled size in book units (contracts for derivatives, base for spot). */
  readonly filledBookUnits: number;
  /** Filled size in the base currency. */
  readonly filledBase: number;
  /** Filled notional in the quote currency (for inverse contracts: contracts * ctVal * ctMult, in USD). */
  readonly filledQuote: number;
  /** Average fill price = filledQuote / filledBase (quote per base). */
  readonly avgPrice: number;
  /** Price of the first level touched (the best price on the consumed side). */
  readonly bestPrice: number;
  /** Price of the last level touched. */
  readonly worstPrice: number;
  /** Levels touched, fully or partly. */
  readonly levelsConsumed: number;
  /** True when the (rounded) order was filled entirely; false when the book side ran out. */
  readonly fullyFilled: boolean;
  /** What was not filled, in the order's own unit (0 when fully filled). Lot rounding is reported separately. */
  readonly unfilledAmount: number;
  /** The unfilled remainder in book units when it is price-independent, else null (can't price beyond the book). */
  readonly unfilledBookUnits: number | null;
  /** Book units taken at the last level touched (the earlier ones were taken whole): the per-level breakdown. */
  readonly lastLevelBookUnits: number;
  /** True when the walk stopped at `usableLevels` (a price limit or px) with the order not filled. */
  readonly stoppedAtLimit: boolean;
}

/** Options of `fillMarketOrder`. */
export interface FillOptions {
  /**
   * Only the first `usableLevels` levels may fill (the rest lie beyond OKX's price limit or an ioc/fok px): the
   * size conversion still sees the whole side, the walk stops there and the rest is cancelled. Default: all.
   */
  readonly usableLevels?: number;
  /** Do not round to lotSz (OKX does not lot-round a spot market order sized in quote, tgtCcy=quote_ccy). */
  readonly noLotRounding?: boolean;
}

export type FillErrorCode = "unit_not_applicable" | "below_lot_size" | "below_min_size" | "empty_book_side" | "no_fill";

export interface FillError {
  readonly ok: false;
  readonly code: FillErrorCode;
  readonly message: string;
  /** For size errors: the order size in book units after rounding, and the limit it missed. */
  readonly orderBookUnits?: number;
  readonly limitBookUnits?: number;
}

/** Number of decimals needed to print `x` exactly (handles 1e-8 style), capped at 15. */
export function decimalsOf(x: number): number {
  const s = String(x);
  const e = s.indexOf("e-");
  if (e >= 0) {
    const mant = s.slice(0, e);
    const dot = mant.indexOf(".");
    return Math.min(15, Number(s.slice(e + 2)) + (dot >= 0 ? mant.length - dot - 1 : 0));
  }
  const dot = s.indexOf(".");
  return dot < 0 ? 0 : Math.min(15, s.length - dot - 1);
}

/** Round `x` to `d` decimals (used to print lot multiples as 0.3, not 0.30000000000000004). */
export function roundTo(x: number, d: number): number {
  const f = 10 ** d;
  return Math.round(x * f) / f;
}

/**
 * Round `units` DOWN to a multiple of `lot`. A relative tolerance of 1e-9 lot absorbs binary representation error,
 * so 0.3 with lot 0.1 stays 0.3 (0.3/0.1 = 2.9999999999999996 in floating point).
 */
export function floorToLot(units: number, lot: number): number {
  const n = Math.floor(units / lot + 1e-9);
  return roundTo(n * lot, decimalsOf(lot));
}

/**
 * Simulate a market order against one side of the book.
 *
 * @param levels the side the order consumes, best first (asks ascending for a buy, bids descending for a sell),
 *   already validated (finite, positive, strictly monotone). Sizes in book units.
 * @param spec instrument spec (instType, ctType, ctVal, ctMult, lotSz, minSz).
 * @param unit unit of `amount`: "base" (base currency), "contracts" (derivatives only) or "quote" (quote notional).
 * @param amount order size in `unit`, > 0.
 */
export function fillMarketOrder(
  levels: readonly PriceLevel[],
  spec: FillSpec,
  unit: OrderUnit,
  amount: number,
  opts?: FillOptions,
): FillResult | FillError {
  const n = levels.length;
  const usable = Math.min(n, opts?.usableLevels ?? n);
  if (n === 0)
    return { ok: false, code: "empty_book_side", message: "the side of the book this order consumes is empty" };
  const spot = spec.instType === "SPOT" || spec.instType === "MARGIN";
  const inverse = !spot && spec.ctType === "inverse";
  const k = spot ? 1 : spec.ctVal * spec.ctMult;
  const lot = spec.lotSz;

  // 1. Order size in book units.
  let target: number;
  let exhaustedRemainder = 0;
  let priceDependent = false;
  if (unit === "contracts") {
    if (spot)
      return {
        ok: false,
        code: "unit_not_applicable",
        message: "contracts apply to derivatives only; give a spot order as size (base) or notional (quote)",
      };
    target = amount;
  } else if (unit === "base" && !inverse) {
    target = amount / k;
  } else if (unit === "quote" && inverse) {
    target = amount / k;
  } else {
    // Price-dependent: quote for spot/linear (k*p per unit), base for inverse (k/p per unit). Walk to solve.
    priceDependent = true;
    let remaining = amount;
    target = 0;
    for (let i = 0; i < n; i++) {
      const l = levels[i]!;
      const per = inverse ? k / l.price : k * l.price;
      const cap = l.size * per;
      if (cap >= remaining) {
        target += remaining / per;
        remaining = 0;
        break;
      }
      target += l.size;
      remaining -= cap;
    }
    exhaustedRemainder = remaining;
  }

  // 2. Lot rounding (down) and minimum size.
  const order = opts?.noLotRounding === true ? target : floorToLot(target, lot);
  const roundedOff = target - order > 0 ? target - order : 0;
  const lotRoundingApplied = roundedOff > lot * 1e-9;
  if (!(order > 0)) {
    return {
      ok: false,
      code: "below_lot_size",
      message: `order is ${fmt(target)} book units, less than one lot (lotSz ${lot}); it rounds down to 0`,
      orderBookUnits: 0,
      limitBookUnits: lot,
    };
  }
  if (order < spec.minSz * (1 - 1e-9)) {
    return {
      ok: false,
      code: "below_min_size",
      message: `order is ${fmt(order)} book units after rounding down to lotSz ${lot}; the instrument's minSz is ${spec.minSz}`,
      orderBookUnits: order,
      limitBookUnits: spec.minSz,
    };
  }

  // 3. Walk the book.
  const tol = lot * 1e-9;
  let remaining = order;
  let filled = 0;
  let base = 0;
  let quote = 0;
  let used = 0;
  let worst = levels[0]!.price;
  let lastTake = 0;
  for (let i = 0; i < usable; i++) {
    const l = levels[i]!;
    const p = l.price;
    let take = l.size;
    const last = take >= remaining - tol;
    if (last) take = remaining;
    filled += take;
    if (inverse) {
      quote += take * k;
      base += (take * k) / p;
    } else {
      base += take * k;
      quote += take * k * p;
    }
    used++;
    worst = p;
    lastTake = take;
    if (last) {
      remaining = 0;
      break;
    }
    remaining -= take;
  }
  // Exact where we can be: a completed walk filled exactly `order`, and for spot/linear base = units * k; this
  // avoids reporting 250.00000000000003 contracts from a floating-point sum.
  if (remaining === 0) filled = order;
  else filled = clean(filled);
  base = inverse ? base : clean(filled * k);
  const fullyFilled = remaining === 0 && exhaustedRemainder === 0;
  let unfilledAmount = 0;
  let unfilledBookUnits: number | null = 0;
  const stoppedAtLimit = remaining > 0 && usable < n;
  if (priceDependent) {
    // What the cut remainder would have cost on the levels beyond the limit (the conversion saw them), plus what
    // even the whole side could not take.
    let cut = 0;
    let rest = remaining;
    for (let i = usable; i < n && rest > tol; i++) {
      const l = levels[i]!;
      const take = l.size < rest ? l.size : rest;
      cut += inverse ? (take * k) / l.price : take * k * l.price;
      rest -= take;
    }
    unfilledAmount = exhaustedRemainder + cut;
    unfilledBookUnits = exhaustedRemainder > 0 ? null : clean(remaining);
  } else if (remaining > 0) {
    unfilledBookUnits = clean(remaining);
    unfilledAmount = clean(unit === "contracts" ? remaining : remaining * k);
  }
  // The VWAP lies between the best and the worst price by construction; clamp away the last-ulp noise of
  // quote / base so that a one-level fill reports exactly that level's price.
  const best = levels[0]!.price;
  if (used === 0) return { ok: false, code: "no_fill", message: "no level lies within the order's price bound" };
  let avg = quote / base;
  if (used === 1) avg = best;
  else if (best <= worst) avg = avg < best ? best : avg > worst ? worst : avg;
  else avg = avg > best ? best : avg < worst ? worst : avg;
  return {
    ok: true,
    targetBookUnits: target,
    orderBookUnits: order,
    lotRoundedOffBookUnits: roundedOff,
    lotRoundingApplied,
    filledBookUnits: filled,
    filledBase: base,
    filledQuote: quote,
    avgPrice: avg,
    bestPrice: best,
    worstPrice: worst,
    levelsConsumed: used,
    fullyFilled,
    unfilledAmount,
    unfilledBookUnits,
    lastLevelBookUnits: lastTake,
    stoppedAtLimit,
  };
}

/** Drop binary noise from a sum of decimals (1313.5000000000002 -> 1313.5); 15 significant digits are exact in a double. */
function clean(x: number): number {
  return +x.toPrecision(15);
}

function fmt(x: number): string {
  return String(roundTo(x, 12));
}
