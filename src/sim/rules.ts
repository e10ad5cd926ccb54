/**
 * OKX's order-acceptance rules for market, ioc and fok orders, answered the way OKX answers them: a rejection
 * carries OKX's own `sCode`, a clip says where the fill stopped and why. Pure functions over plain data.
 *
 * Sources (OKX API v5 documentation, docs-v5, read 2026-12-03 through the project's reference index):
 * - Get instruments: `state` live | suspend | preopen | test ("test: Test pairs, can't be traded"); `lotSz` and
 *   `minSz` in contracts (derivatives) or base currency (SPOT/MARGIN); `maxMktSz` "the maximum order quantity of a
 *   single market order. If it is a derivatives contract, the value is the number of contracts. If it is
 *   SPOT/MARGIN, the value is the quantity in USDT"; `maxMktAmt` "Max USD amount for a single market order. Only
 *   applicable to SPOT/MARGIN".
 * - Place order: `tgtCcy` "Whether the target currency uses the quote or base currency. base_ccy / quote_ccy.
 *   Only applicable to SPOT Market Orders. Default is quote_ccy for buy, base_ccy for sell"; `px` is required for
 *   fok/ioc; `pxAmendType` "0: Do not allow the system to amend the order price if px exceeds the price limit"
 *   (the default).
 * - Get limit price (`GET /api/v5/public/price-limit`): `buyLmt` highest buy limit, `sellLmt` lowest sell limit,
 *   `enabled` whether the limit is effective ("" limits when it is not).
 * - Error codes (REST API error codes, 51xxx): 51001 Instrument ID doesn't exist; 51006 Order price is not within
 *   the price limit (max buy price, min sell price); 51020 Your order should meet or exceed the minimum order
 *   amount; 51021 The pair or contract is not yet listed; 51022 Contract suspended; 51121 Order quantity must be a
 *   multiple of the lot size; 51201 The value of a market order can't exceed {param0}; 51202 Market order amount
 *   exceeds the maximum amount.
 *
 * Not stated by OKX's documentation, so a modelling choice said out loud: a MARKET order whose walk reaches the
 * price limit fills up to it and the rest is cancelled (the price limit caps the fill price; hftbacktest and
 * nautilus_trader clip market orders the same way), and a market order with no level inside the limit gets no fill.
 * Sizes for spot maxMktSz/maxMktAmt checks are valued at the mid, and USDT/USDC/USD quotes are taken at par with
 * USD; other quote currencies cannot be checked against maxMktAmt (the response warns).
 */
import type { PriceLevel } from "./fill.js";
import type { InstrumentSpec, InstrumentState } from "./instruments.js";

/** OKX sCodes the simulator answers with, and OKX's message for each (docs-v5 error code table). */
export const OKX_CODES = {
  "51006": "Order price is not within the price limit",
  "51020": "Your order should meet or exceed the minimum order amount.",
  "51021": "The pair or contract is not yet listed",
  "51022": "Contract suspended.",
  "51121": "Order quantity must be a multiple of the lot size.",
  "51201": "The value of a market order can't exceed {param0}.",
  "51202": "Market order amount exceeds the maximum amount.",
} as const;
export type OkxCode = keyof typeof OKX_CODES;

/** A rejection the way OKX would answer it. */
export interface RuleReject {
  readonly code:
    | "instrument_not_live"
    | "lot_size_mismatch"
    | "market_size_exceeded"
    | "market_amount_exceeded"
    | "price_out_of_limit";
  readonly okxCode: OkxCode;
  readonly message: string;
  readonly path: string;
}

/** OKX rejects orders on an instrument that is not `live`. */
export function checkState(instId: string, state: InstrumentState | undefined): RuleReject | null {
  if (state === undefined || state === "live") return null;
  const okxCode: OkxCode = state === "suspend" ? "51022" : "51021";
  const why =
    state === "suspend"
      ? "suspended"
      : state === "preopen"
        ? "not yet trading (preopen)"
        : "a test pair that cannot be traded";
  return {
    code: "instrument_not_live",
    okxCode,
    message: `${instId} is ${why}: OKX answers ${okxCode} "${OKX_CODES[okxCode]}"`,
    path: "instrument.state",
  };
}

/**
 * OKX's `sz` must be a whole number of lots (51121). Applies when the request gives OKX's own size: contracts for
 * derivatives, base for spot (tgtCcy=base_ccy). Sizes the simulator converts (base on a derivative, notional) are
 * rounded down instead, since that conversion is ours and a client would round the same way.
 */
export function checkLotMultiple(amount: number, lotSz: number, path: string, unitName: string): RuleReject | null {
  const r = amount / lotSz;
  if (Math.abs(r - Math.round(r)) <= 1e-9 * Math.max(1, r)) return null;
  return {
    code: "lot_size_mismatch",
    okxCode: "51121",
    message: `${amount} ${unitName} is not a multiple of lotSz ${lotSz}: OKX answers 51121 "${OKX_CODES["51121"]}"`,
    path,
  };
}

/** Inputs of the market-order size caps. */
export interface MarketCapInput {
  readonly spec: InstrumentSpec;
  /** Order size in book units (OKX `sz` for derivatives, base for spot with tgtCcy=base_ccy). */
  readonly orderBookUnits: number;
  /** The order's quote value (spot): the notional for tgtCcy=quote_ccy, else size x mid. */
  readonly orderQuote: number;
  readonly path: string;
}

const USD_LIKE = new Set(["USD", "USDT", "USDC"]);

/** maxMktSz (51202) and, for spot, maxMktAmt (51201); market orders only. `warn` receives what could not be checked. */
export function checkMarketCaps(i: MarketCapInput, warn: (w: string) => void): RuleReject | null {
  const { spec } = i;
  const spot = spec.instType === "SPOT" || spec.instType === "MARGIN";
  if (spec.maxMktSz !== undefined) {
    // Derivatives: contracts. Spot: "the quantity in USDT" (docs-v5), i.e. the order's quote value.
    const size = spot ? i.orderQuote : i.orderBookUnits;
    if (size > spec.maxMktSz * (1 + 1e-12)) {
      const what = spot ? `${fmt(size)} ${spec.quoteCcy} of value` : `${fmt(size)} contracts`;
      return {
        code: "market_size_exceeded",
        okxCode: "51202",
        message: `${what} exceeds maxMktSz ${spec.maxMktSz}: OKX answers 51202 "${OKX_CODES["51202"]}"`,
        path: i.path,
      };
    }
  }
  if (spot && spec.maxMktAmt !== undefined) {
    if (!USD_LIKE.has(spec.quoteCcy)) {
      warn(`maxMktAmt ${spec.maxMktAmt} USD not checked: the quote currency ${spec.quoteCcy} has no USD price here`);
    } else if (i.orderQuote > spec.maxMktAmt * (1 + 1e-12)) {
      return {
        code: "market_amount_exceeded",
        okxCode: "51201",
        message: `${fmt(i.orderQuote)} USD exceeds maxMktAmt ${spec.maxMktAmt}: OKX answers 51201 "${OKX_CODES["51201"].replace("{param0}", String(spec.maxMktAmt))}"`,
        path: i.path,
      };
    }
  }
  return null;
}

/** A price bound on the consumed side: the highest price a buy may fill at, or the lowest a sell may. */
export function usableLevels(levels: readonly PriceLevel[], side: "buy" | "sell", bound: number | null): number {
  if (bound === null) return levels.length;
  let n = 0;
  if (side === "buy") while (n < levels.length && levels[n]!.price <= bound) n++;
  else while (n < levels.length && levels[n]!.price >= bound) n++;
  return n;
}

/** ioc/fok: OKX rejects a px beyond the price limit (51006; pxAmendType defaults to 0, "do not amend"). */
export function checkPxWithinLimit(
  side: "buy" | "sell",
  px: number,
  buyLmt: number | null,
  sellLmt: number | null,
): RuleReject | null {
  const out = side === "buy" ? buyLmt !== null && px > buyLmt : sellLmt !== null && px < sellLmt;
  if (!out) return null;
  return {
    code: "price_out_of_limit",
    okxCode: "51006",
    message: `px ${px} is outside OKX's price limit (max buy price ${buyLmt ?? "none"}, min sell price ${sellLmt ?? "none"}): OKX answers 51006 "${OKX_CODES["51006"]}"`,
    path: "px",
  };
}

function fmt(x: number): string {
  return String(+x.toPrecision(12));
}
