/**
 * OKX trading-fee schedule: ONE table, regular tiers Lv1..Lv5 and VIP1..VIP8, separate spot and derivatives
 * (expiry futures + perpetual swaps) schedules, maker and taker rates as decimal fractions (0.001 = 0.100 %).
 *
 * SOURCE AND DATE — read this before trusting a number:
 * - Spot (USDT/USDⓈ/crypto pairs): the "Spot" tab of https://www.okx.com/fees, as stored in this project's
 *   reference-page index (snapshot undated; it is the schedule with OKB-holding tiers Lv1 < 500, Lv2 >= 500,
 *   Lv3 >= 1,000, Lv4 >= 1,500, Lv5 >= 2,000 OKB). Transcribed 2026-11-24 for this table. VERIFIED against that page.
 * - Derivatives Lv1 (0.020 % maker / 0.050 % taker) is OKX's long-standing base rate for USDT-margined and
 *   crypto-margined futures and swaps, stated consistently by OKX help pages and several third-party guides.
 *   VERIFIED (multiple sources agree).
 * - Derivatives Lv2..Lv5 and VIP1..VIP8: the "Futures and Perp" tab of the same page did not survive in the
 *   stored snapshot (it is rendered client-side). The numbers below are a best-effort reconstruction of that
 *   tab and are NOT VERIFIED: every such row carries `verified: false`, the API response repeats the flag and a
 *   warning, and callers who know their rate should send `takerFeeRate` explicitly (which always wins).
 * - OKX revises this schedule (a 2025 snapshot of the spot page shows a single regular tier and cheaper VIP
 *   rates, e.g. VIP1 0.045 %/0.050 %). Check https://www.okx.com/fees, or your own rate via the private
 *   `GET /api/v5/account/trade-fee`, before relying on a tier.
 * - USDC pairs and options have their own schedules; they are not in this table (options are not simulated).
 *
 * Fee currency (OKX rules): spot takers pay in the currency they RECEIVE (a buy pays in the base coin, a sell in
 * the quote currency); linear (USDT/USDC-margined) contracts pay in the settlement currency; inverse
 * (crypto-margined) contracts pay in the coin: fee = rate * contracts * ctMult * ctVal / fill price.
 */
import type { InstType } from "./instruments.js";

export const FEE_TIERS = [
  "Lv1",
  "Lv2",
  "Lv3",
  "Lv4",
  "Lv5",
  "VIP1",
  "VIP2",
  "VIP3",
  "VIP4",
  "VIP5",
  "VIP6",
  "VIP7",
  "VIP8",
] as const;
export type FeeTier = (typeof FEE_TIERS)[number];
export type FeeSchedule = "spot" | "derivatives";

export interface FeeRow {
  /** Maker rate, decimal fraction (negative = rebate). */
  readonly maker: number;
  /** Taker rate, decimal fraction. */
  readonly taker: number;
  /** True only when the row was checked against a stated source (see the module comment). */
  readonly verified: boolean;
}

const row = (makerPct: number, takerPct: number, verified: boolean): FeeRow => ({
  // Rates are written in percent, as OKX prints them, and converted once here; rounding to 1e-8 keeps
  // e.g. 0.095 % as exactly 0.00095 instead of 0.0009500000000000001.
  maker: Math.round(makerPct * 1e6) / 1e8,
  taker: Math.round(takerPct * 1e6) / 1e8,
  verified,
});

/** The fee table. Percent values as printed by OKX; see the module comment for provenance. */
export const FEE_TABLE: Readonly<Record<FeeSchedule, Readonly<Record<FeeTier, FeeRow>>>> = {
  spot: {
    Lv1: row(0.08, 0.1, true),
    Lv2: row(0.075, 0.095, true),
    Lv3: row(0.07, 0.09, true),
    Lv4: row(0.065, 0.085, true),
    Lv5: row(0.06, 0.08, true),
    VIP1: row(0.06, 0.08, true),
    VIP2: row(0.05, 0.07, true),
    VIP3: row(0.03, 0.06, true),
    VIP4: row(0.02, 0.05, true),
    VIP5: row(0.0, 0.04, true),
    VIP6: row(-0.002, 0.03, true),
    VIP7: row(-0.005, 0.025, true),
    VIP8: row(-0.005, 0.02, true),
  },
  derivatives: {
    Lv1: row(0.02, 0.05, true),
    Lv2: row(0.018, 0.045, false),
    Lv3: row(0.016, 0.04, false),
    Lv4: row(0.014, 0.035, false),
    Lv5: row(0.012, 0.03, false),
    VIP1: row(0.015, 0.04, false),
    VIP2: row(0.01, 0.035, false),
    VIP3: row(0.005, 0.03, false),
    VIP4: row(0.0, 0.027, false),
    VIP5: row(-0.005, 0.025, false),
    VIP6: row(-0.005, 0.02, false),
    VIP7: row(-0.005, 0.018, false),
    VIP8: row(-0.005, 0.015, false),
  },
};

/** Where the table came from, repeated in every response that uses it. */
export const FEE_TABLE_SOURCE =
  "https://www.okx.com/fees (spot tab, OKB-tier schedule; derivatives Lv1 base rate); derivatives Lv2..Lv5/VIP rows unverified reconstruction. Transcribed 2026-11-24.";

/** Which schedule an instrument type pays; null for options (own schedule with a premium cap; not simulated). */
export function feeScheduleFor(instType: InstType): FeeSchedule | null {
  if (instType === "SPOT" || instType === "MARGIN") return "spot";
  if (instType === "SWAP" || instType === "FUTURES") return "derivatives";
  return null;
}

/** The table row for a tier and schedule. */
export function feeRow(schedule: FeeSchedule, tier: FeeTier): FeeRow {
  return FEE_TABLE[schedule][tier];
}

/** Taker rate for a tier (a market order always pays taker). */
export function takerRate(schedule: FeeSchedule, tier: FeeTier): number {
  return FEE_TABLE[schedule][tier].taker;
}

export interface FeeAmount {
  /** Rate applied, decimal fraction. */
  readonly rate: number;
  /** Fee in `currency`. */
  readonly amount: number;
  readonly currency: string;
  /** The same fee valued in the quote currency at the fill's average price (= rate * filled quote notional). */
  readonly amountQuote: number;
}

/**
 * The taker fee of a fill, in the currency OKX charges it in (see the module comment), plus its quote value.
 * `filledBase`/`filledQuote` are the fill's totals (for inverse contracts, base = sum of contracts*ctVal*ctMult/px).
 */
export function takerFee(
  rate: number,
  side: "buy" | "sell",
  kind: "spot" | "linear" | "inverse",
  filledBase: number,
  filledQuote: number,
  ccy: { readonly baseCcy: string; readonly quoteCcy: string; readonly settleCcy: string },
): FeeAmount {
  const amountQuote = rate * filledQuote;
  if (kind === "spot") {
    return side === "buy"
      ? { rate, amount: rate * filledBase, currency: ccy.baseCcy, amountQuote }
      : { rate, amount: amountQuote, currency: ccy.quoteCcy, amountQuote };
  }
  if (kind === "inverse")
    return { rate, amount: rate * filledBase, currency: ccy.settleCcy || ccy.baseCcy, amountQuote };
  return { rate, amount: amountQuote, currency: ccy.settleCcy || ccy.quoteCcy, amountQuote };
}
