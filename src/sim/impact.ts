/**
 * Market impact of a market order, two ways, kept apart on purpose.
 *
 * 1. Walk-the-book impact (what this order actually does to THIS book): average fill vs the best price, and how far
 *    the order pushes the touch (best -> worst level touched). This is measured, not modelled, and it is the
 *    order's entire temporary impact: an instant market order has no execution schedule to spread it over.
 *
 * 2. Pre-trade square-root estimate (a model, for context): the empirical "square-root law" of metaorder impact,
 *      I / P = Y * sigma_d * sqrt(Q / ADV)
 *    (Almgren, Thum, Hauptmann & Li 2005, "Direct estimation of equity market impact"; Tóth et al. 2011,
 *    "Anomalous price impact and the critical nature of liquidity in financial markets"), with Q the order size and
 *    ADV the average daily volume in the same unit, sigma_d the DAILY volatility of returns and Y a dimensionless
 *    constant of order 1 (default 1, overridable and echoed in the response). It needs a volatility AND an ADV; if
 *    either is missing the estimate is reported as unavailable, never invented.
 *
 * Almgren-Chriss: its optimal-execution model splits impact into a permanent part and a temporary part that
 * depends on the trading RATE (shares per unit time over a schedule of length T). A market order executes at once
 * (T -> 0), where the temporary term is undefined; applying it anyway is a category error. The response says so
 * instead of printing a number.
 *
 * Clock: crypto trades 24/7, so a year is 365 * 24 * 3600 = 31,536,000 s and a day 86,400 s. De-annualising with
 * 252 trading days (the equity convention) would inflate per-second and daily volatility by sqrt(365/252) ~ 1.2x.
 */

export const SECONDS_PER_DAY = 86_400;
/** 24/7 market: 365 days of 86,400 s. Never 252. */
export const SECONDS_PER_YEAR = 365 * SECONDS_PER_DAY;
/** Default square-root-law coefficient Y (dimensionless; empirical values cluster around 0.5..1). */
export const DEFAULT_SQRT_Y = 1;

export type VolatilityUnit = "per_second" | "annualised";

/** Volatility of log returns converted to per-second (sqrt-time scaling on the 24/7 clock). */
export function sigmaPerSecond(value: number, unit: VolatilityUnit): number {
  return unit === "per_second" ? value : value / Math.sqrt(SECONDS_PER_YEAR);
}

/** Cost sign: +1 for a buy (paying above a reference is a cost), -1 for a sell. */
export function costSign(side: "buy" | "sell"): 1 | -1 {
  return side === "buy" ? 1 : -1;
}

export interface WalkImpact {
  /** (avg - best) signed as a cost, in bps of best. */
  readonly avgVsBestBps: number;
  /** The same in quote currency over the filled base size. */
  readonly avgVsBestQuote: number;
  /** (worst - best) signed as a cost, in bps of best: how far the order pushed through the book. */
  readonly touchMoveBps: number;
}

/**
 * Walk-the-book impact of a fill.
 * @param avgPrice fill VWAP; @param bestPrice first level touched; @param worstPrice last level touched;
 * @param filledBase filled size in base currency.
 */
export function walkTheBookImpact(
  side: "buy" | "sell",
  avgPrice: number,
  bestPrice: number,
  worstPrice: number,
  filledBase: number,
): WalkImpact {
  const s = costSign(side);
  return {
    avgVsBestBps: (s * (avgPrice - bestPrice) * 1e4) / bestPrice,
    avgVsBestQuote: s * (avgPrice - bestPrice) * filledBase,
    touchMoveBps: (s * (worstPrice - bestPrice) * 1e4) / bestPrice,
  };
}

export interface SqrtLawInput {
  /** Per-second volatility of log returns, if known. */
  readonly sigmaPerSecond?: number | undefined;
  /** Average 24 h traded volume, base currency, if known. */
  readonly adv24hBase?: number | undefined;
  /** Order size, base currency. */
  readonly qtyBase: number;
  /** Reference price (mid), quote per base. */
  readonly refPrice: number;
  /** Coefficient Y (default 1). */
  readonly y?: number | undefined;
}

export type SqrtLawEstimate =
  | {
      readonly available: true;
      readonly y: number;
      readonly sigmaDaily: number;
      readonly participation: number;
      readonly impactBps: number;
      readonly impactQuote: number;
    }
  | { readonly available: false; readonly y: number; readonly missing: readonly string[] };

/**
 * Pre-trade square-root-law estimate: impact fraction = Y * sigma_daily * sqrt(Q / ADV), with
 * sigma_daily = sigma_per_second * sqrt(86,400). Reports which inputs are missing instead of defaulting them.
 */
export function sqrtLawEstimate(i: SqrtLawInput): SqrtLawEstimate {
  const y = i.y ?? DEFAULT_SQRT_Y;
  const missing: string[] = [];
  if (i.sigmaPerSecond === undefined) missing.push("volatility");
  if (i.adv24hBase === undefined) missing.push("adv24hBase");
  if (i.sigmaPerSecond === undefined || i.adv24hBase === undefined) return { available: false, y, missing };
  const sigmaDaily = i.sigmaPerSecond * Math.sqrt(SECONDS_PER_DAY);
  const participation = i.qtyBase / i.adv24hBase;
  const frac = y * sigmaDaily * Math.sqrt(participation);
  return {
    available: true,
    y,
    sigmaDaily,
    participation,
    impactBps: frac * 1e4,
    impactQuote: frac * i.qtyBase * i.refPrice,
  };
}

export interface LatencyRisk {
  readonly latencyMs: number;
  /** One standard deviation of the price move during the round trip, bps: sigma_s * sqrt(latency_s) * 1e4. */
  readonly oneSigmaBps: number;
  /** The same in quote currency over the order's notional at the reference price. */
  readonly oneSigmaQuote: number;
}

/**
 * Price risk while the order travels (a random walk has zero expected drift, so this is a risk, not a cost, and
 * is not added to the net cost).
 */
export function latencyRisk(sigmaPerSec: number, latencyMs: number, notionalQuote: number): LatencyRisk {
  const frac = sigmaPerSec * Math.sqrt(latencyMs / 1000);
  return { latencyMs, oneSigmaBps: frac * 1e4, oneSigmaQuote: frac * notionalQuote };
}
