/**
 * Request and response schemas of `POST /simulate/trade` (zod via @hono/zod-openapi, so the same definitions
 * validate requests and generate `GET /openapi.json`). Every number's unit is in its name or its description.
 *
 * Level VALUES are only shape-checked here (string or number); their numeric validity, ordering, duplicates and
 * crossing are checked by `parseBookSide` in simulate.ts, which reports the exact offending path and is much
 * cheaper than a zod refinement per level on a 5,000-level book.
 */
import { z } from "@hono/zod-openapi";
import { INST_ID_RE } from "../okx/protocol.js";
import { FEE_TIERS } from "./fees.js";
import { INST_TYPES } from "./instruments.js";

/** Most levels accepted per book side (OKX's deepest public book, books-full, has 5,000). */
export const MAX_LEVELS_PER_SIDE = 5000;
/** Largest accepted request body. */
export const MAX_BODY_BYTES = 1024 * 1024;

/**
 * One level, `[px, sz, ...]`. Deliberately NOT checked element by element here: a zod union per value costs
 * ~130 us per 400-level side, 20x the whole simulation. `parseBookSide` (simulate.ts) checks shape and values in
 * one pass and reports the exact path; the OpenAPI description below documents the real contract.
 */
const level = z.any().openapi({
  type: "array",
  minItems: 2,
  maxItems: 8,
  items: { oneOf: [{ type: "string" }, { type: "number" }] },
  example: ["61800.3", "107.2", "0", "1"],
  description: "[price (quote per base), size (book units: contracts for derivatives, base currency for spot), ...ignored]. Values are decimal strings (as OKX sends them) or JSON numbers, finite and > 0.",
});

const side = (name: "bids" | "asks") =>
  z
    .array(level)
    .max(MAX_LEVELS_PER_SIDE, `at most ${MAX_LEVELS_PER_SIDE} levels per side`)
    .openapi({
      description:
        name === "bids"
          ? "Bid levels, best (highest price) first, strictly descending, no duplicates. Sizes in contracts for SWAP/FUTURES, base currency for SPOT — exactly as OKX publishes them."
          : "Ask levels, best (lowest price) first, strictly ascending, no duplicates. Sizes in contracts for SWAP/FUTURES, base currency for SPOT — exactly as OKX publishes them.",
    });

export const OrderbookSchema = z
  .strictObject({
    bids: side("bids"),
    asks: side("asks"),
    ts: z
      .union([z.number().int().nonnegative(), z.string().regex(/^\d{1,16}$/, "ts must be Unix milliseconds as digits")])
      .optional()
      .openapi({ description: "Book timestamp, Unix milliseconds (OKX `ts`). When given, the response reports bookAgeMs against the server clock.", example: "1723161256509" }),
  })
  .openapi({ description: "The order book to execute against, in OKX `books` format. Omit it to use the live book of the instrument (the response says so)." });

const positive = (what: string) => z.number({ error: `${what} must be a number` }).positive(`${what} must be > 0`);

export const InstrumentInputSchema = z
  .strictObject({
    instType: z.enum(INST_TYPES).openapi({ description: "OKX instrument type." }),
    ctVal: positive("ctVal").optional().openapi({ description: "Contract value in ctValCcy per contract (e.g. 0.01 BTC for BTC-USDT-SWAP, 100 USD for BTC-USD-SWAP). Required for SWAP/FUTURES." }),
    ctMult: positive("ctMult").optional().openapi({ description: "Contract multiplier (default 1)." }),
    ctType: z.enum(["linear", "inverse"]).optional().openapi({ description: "linear (USDT/USDC-margined, ctVal in the base coin) or inverse (crypto-margined, ctVal in USD). Required for SWAP/FUTURES." }),
    tickSz: positive("tickSz").openapi({ description: "Price tick, quote currency." }),
    lotSz: positive("lotSz").openapi({ description: "Size step, book units (contracts or base currency)." }),
    minSz: positive("minSz").openapi({ description: "Minimum order size, book units." }),
    baseCcy: z.string().max(20).optional(),
    quoteCcy: z.string().max(20).optional(),
    settleCcy: z.string().max(20).optional(),
    ctValCcy: z.string().max(20).optional(),
  })
  .openapi({ description: "Instrument spec (OKX field names). Omit it to resolve the spec from OKX's GET /api/v5/public/instruments (cached)." });

export const SimulateRequestSchema = z
  .strictObject({
    instId: z.string().max(64).regex(INST_ID_RE, "instId must be an OKX instrument id, e.g. BTC-USDT, BTC-USDT-SWAP, BTC-USD-SWAP").openapi({ example: "BTC-USDT-SWAP" }),
    side: z.enum(["buy", "sell"]).openapi({ description: "buy consumes asks, sell consumes bids." }),
    size: positive("size").optional().openapi({ description: "Order size in the BASE currency (e.g. BTC). Give exactly one of size, contracts, notional." }),
    contracts: positive("contracts").optional().openapi({ description: "Order size in CONTRACTS (derivatives only). Give exactly one of size, contracts, notional.", example: 250 }),
    notional: positive("notional").optional().openapi({ description: "Order size as QUOTE-currency notional (e.g. 100 USDT; USD for inverse contracts). Give exactly one of size, contracts, notional." }),
    orderbook: OrderbookSchema.optional(),
    instrument: InstrumentInputSchema.optional(),
    feeTier: z.enum(FEE_TIERS).optional().openapi({ description: "OKX fee tier (regular Lv1..Lv5, VIP1..VIP8). Default Lv1. Mutually exclusive with takerFeeRate." }),
    takerFeeRate: z
      .number({ error: "takerFeeRate must be a number" })
      .min(0, "takerFeeRate must be >= 0")
      .max(0.01, "takerFeeRate is a decimal fraction (0.0005 = 0.05 %) and must be <= 0.01")
      .optional()
      .openapi({ description: "Explicit taker fee rate as a decimal fraction (0.0005 = 0.05 %). Overrides the fee table." }),
    volatility: z
      .strictObject({
        value: positive("volatility.value").max(100, "volatility.value is a fraction (0.6 = 60 % annualised) and must be <= 100"),
        unit: z.enum(["per_second", "annualised"]).openapi({ description: "per_second: std-dev of 1-second log returns; annualised: on a 24/7 clock of 31,536,000 s/year." }),
      })
      .optional()
      .openapi({ description: "Volatility of log returns as a fraction (0.6 = 60 %), with its unit. Used only for the pre-trade model estimate and latency risk." }),
    latencyMs: z.number().min(0, "latencyMs must be >= 0").max(60_000, "latencyMs must be <= 60000").optional().openapi({ description: "Assumed order round-trip time, milliseconds (for latency price risk)." }),
    adv24hBase: positive("adv24hBase").optional().openapi({ description: "Average 24 h traded volume, BASE currency. Needed for the square-root-law participation; never assumed." }),
    sqrtImpactY: positive("sqrtImpactY").max(10, "sqrtImpactY must be <= 10").optional().openapi({ description: "Square-root-law coefficient Y (dimensionless, default 1)." }),
  })
  .superRefine((v, ctx) => {
    const given = (["size", "contracts", "notional"] as const).filter((k) => v[k] !== undefined);
    if (given.length !== 1) {
      ctx.addIssue({
        code: "custom",
        message:
          given.length === 0
            ? "give exactly one of size (base currency), contracts (derivatives) or notional (quote currency)"
            : `give exactly one of size, contracts, notional (got ${given.join(" and ")})`,
        path: given.length === 0 ? [] : [given[1]!],
      });
    }
    if (v.feeTier !== undefined && v.takerFeeRate !== undefined) {
      ctx.addIssue({ code: "custom", message: "give feeTier or takerFeeRate, not both", path: ["takerFeeRate"] });
    }
  })
  .openapi("SimulateTradeRequest", {
    example: {
      instId: "BTC-USDT-SWAP",
      side: "buy",
      contracts: 250,
      orderbook: { ts: "1723161256509", bids: [["61800.2", "120", "0", "3"]], asks: [["61800.3", "107.2", "0", "1"], ["61800.7", "0.2", "0", "1"], ["61801", "300", "0", "4"]] },
      instrument: { instType: "SWAP", ctVal: 0.01, ctMult: 1, ctType: "linear", tickSz: 0.1, lotSz: 0.01, minSz: 0.01 },
      feeTier: "Lv1",
      volatility: { value: 0.5, unit: "annualised" },
      latencyMs: 50,
    },
  });

export type SimulateRequest = z.infer<typeof SimulateRequestSchema>;

const num = (description: string) => z.number().openapi({ description });
const numOrNull = (description: string) => z.number().nullable().openapi({ description });

export const SimulateResponseSchema = z
  .object({
    instId: z.string(),
    side: z.enum(["buy", "sell"]),
    takerShare: z.literal(1).openapi({ description: "Fraction of the order executed as taker: a market order takes liquidity, so this is 1 by definition (stated, not predicted)." }),
    order: z.object({
      requestedAmount: num("The size as requested, in requestedUnit."),
      requestedUnit: z.enum(["base", "contracts", "quote"]).openapi({ description: "base = base currency, contracts = contracts, quote = quote-currency notional." }),
      bookUnit: z.enum(["contracts", "base"]).openapi({ description: "Unit of book sizes and *BookUnits fields: contracts for derivatives, base currency for spot." }),
      targetBookUnits: num("Requested size converted to book units before lot rounding (price-dependent conversions are solved on the book)."),
      orderBookUnits: num("Size actually simulated, book units, after rounding DOWN to lotSz."),
      lotSz: num("Size step, book units."),
      minSz: num("Minimum order size, book units."),
      lotRoundingApplied: z.boolean().openapi({ description: "True when the size was rounded down to a multiple of lotSz." }),
      lotRoundedOffBookUnits: num("targetBookUnits - orderBookUnits, book units (>= 0)."),
    }),
    fill: z.object({
      filledContracts: numOrNull("Filled size in contracts; null for spot."),
      filledBase: num("Filled size, base currency (inverse contracts: sum of contracts*ctVal*ctMult/price)."),
      filledQuote: num("Filled notional, quote currency (inverse contracts: contracts*ctVal*ctMult USD)."),
      avgPrice: num("Average fill price (VWAP = filledQuote / filledBase), quote per base. Harmonic contract-weighted mean for inverse contracts, as OKX averages them."),
      bestPrice: num("First (best) level price touched, quote per base."),
      midPrice: num("Book mid ((best bid + best ask) / 2) before the order, quote per base."),
      worstPrice: num("Last (worst) level price touched, quote per base."),
      levelsConsumed: z.number().int().openapi({ description: "Levels touched, fully or partly." }),
      fullyFilled: z.boolean().openapi({ description: "False when the book side ran out before the order was filled." }),
      unfilledAmount: num("Unfilled remainder in requestedUnit (0 when fully filled; lot rounding is reported in order.lotRoundedOffBookUnits)."),
      unfilledBookUnits: numOrNull("Unfilled remainder in book units; null when it depends on prices beyond the book (notional/base sizes that exhausted it)."),
    }),
    slippage: z.object({
      vsMidBps: num("(avgPrice - mid) signed as a cost (positive = worse for you), basis points of mid."),
      vsMidQuote: num("The same in quote currency: sign * (avgPrice - mid) * filledBase."),
      vsBestBps: num("(avgPrice - bestPrice) signed as a cost, basis points of bestPrice."),
      vsBestQuote: num("The same in quote currency."),
    }),
    fee: z.object({
      schedule: z.enum(["spot", "derivatives"]),
      tier: z.enum(FEE_TIERS).nullable().openapi({ description: "Tier used; null when takerFeeRate was given." }),
      rateSource: z.enum(["feeTier", "takerFeeRate", "default Lv1"]),
      rate: num("Taker fee rate applied, decimal fraction (0.0005 = 0.05 %)."),
      amount: num("Fee in `currency` (spot buy: base coin; spot sell: quote; linear: settle currency; inverse: the coin)."),
      currency: z.string(),
      amountQuote: num("Fee valued in quote currency at avgPrice (= rate * filledQuote)."),
      verified: z.boolean().openapi({ description: "False when the fee-table row is an unverified reconstruction (see docs); true for takerFeeRate." }),
      tableSource: z.string(),
    }),
    marketImpact: z.object({
      walkTheBook: z.object({
        avgVsBestBps: num("Average fill vs best price, bps of best (cost-signed). The order's measured temporary impact."),
        avgVsBestQuote: num("The same in quote currency."),
        touchMoveBps: num("Worst touched vs best price, bps of best: how far the order pushed through the book."),
      }),
      preTrade: z.object({
        model: z.literal("square_root_law"),
        formula: z.string(),
        available: z.boolean().openapi({ description: "False when volatility or adv24hBase is missing (see `missing`); nothing is assumed." }),
        missing: z.array(z.string()),
        y: num("Coefficient Y (dimensionless)."),
        sigmaPerSecond: numOrNull("Volatility per second (fraction)."),
        sigmaDaily: numOrNull("Volatility per 86,400 s day (fraction) = sigmaPerSecond * sqrt(86400)."),
        sigmaAnnualised: numOrNull("Volatility per 365-day year (fraction) = sigmaPerSecond * sqrt(31536000)."),
        adv24hBase: numOrNull("ADV used, base currency per 24 h."),
        participation: numOrNull("filledBase / adv24hBase."),
        impactBps: numOrNull("Estimated impact, bps of mid."),
        impactQuote: numOrNull("Estimated impact, quote currency, over filledBase at mid."),
        clock: z.string(),
        note: z.string(),
      }),
      almgrenChriss: z.object({ applicable: z.literal(false), reason: z.string() }),
      latency: z
        .object({
          latencyMs: num("Round trip assumed, milliseconds."),
          available: z.boolean(),
          oneSigmaBps: numOrNull("1-sigma price move during the round trip, bps (risk, zero expected cost; not in netCost)."),
          oneSigmaQuote: numOrNull("The same in quote currency over the filled notional."),
        })
        .nullable()
        .openapi({ description: "Present when latencyMs was given." }),
    }),
    netCost: z.object({
      quote: num("Total cost of the fill vs mid, quote currency = halfSpreadQuote + bookImpactQuote + feeQuote (= slippage.vsMidQuote + fee.amountQuote)."),
      bps: num("netCost.quote over filledBase * mid, basis points."),
      settle: numOrNull("Net cost in the settlement currency (inverse: the coin, slippage converted at mid + coin fee; linear: = quote); null for spot."),
      settleCcy: z.string().nullable(),
      components: z.object({
        halfSpreadQuote: num("sign * (bestPrice - mid) * filledBase, quote currency."),
        bookImpactQuote: num("sign * (avgPrice - bestPrice) * filledBase, quote currency (walk-the-book impact)."),
        feeQuote: num("Taker fee in quote currency."),
      }),
      formula: z.string(),
    }),
    currencies: z.object({ base: z.string(), quote: z.string(), settle: z.string(), fee: z.string() }),
    instrument: z.object({
      instType: z.enum(INST_TYPES),
      ctType: z.enum(["linear", "inverse"]),
      ctVal: num("Contract value, ctValCcy per contract (1 for spot)."),
      ctMult: num("Contract multiplier."),
      ctValCcy: z.string(),
      tickSz: num("Price tick, quote currency."),
      lotSz: num("Size step, book units."),
      minSz: num("Minimum size, book units."),
      source: z.enum(["request", "okx_rest", "cache"]).openapi({ description: "Where the spec came from." }),
    }),
    book: z.object({
      source: z.enum(["request", "live"]).openapi({ description: "request: the orderbook you sent; live: the relay's live book for instId (orderbook omitted)." }),
      ts: numOrNull("Book timestamp, Unix ms (null when not given)."),
      bookAgeMs: numOrNull("Server clock minus ts, milliseconds (negative: the book's clock is ahead); null without ts."),
      bidLevels: z.number().int(),
      askLevels: z.number().int(),
      bestBid: num("Quote per base."),
      bestAsk: num("Quote per base."),
      midPrice: num("Quote per base."),
      spreadBps: num("(bestAsk - bestBid) / mid, basis points."),
    }),
    engineTimeUs: numOrNull(
      "The pure engine's processing time (book parsing and validation + fill + costs), microseconds, via performance.now(). null in Cloudflare Workers, whose timers do not advance during synchronous work (Spectre mitigation): there is nothing honest to report; run the engine locally (Node) for real numbers.",
    ),
    warnings: z.array(z.string()).openapi({ description: "Things you should know: lot rounding, thin book, stale book, unverified fee row, assumed defaults." }),
  })
  .openapi("SimulateTradeResponse");

export type SimulateResponse = z.infer<typeof SimulateResponseSchema>;

export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.string().openapi({ description: "Stable machine-readable code, e.g. invalid_request, crossed_book, below_min_size." }),
      message: z.string().openapi({ description: "What is wrong and how to fix it." }),
      path: z.string().optional().openapi({ description: "JSON path of the offending field, e.g. orderbook.bids[3][1]." }),
    }),
  })
  .openapi("Error");
