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

/** Most levels accepted per book side (OKX's deepest public book, books-full, has 5,000). */
export const MAX_LEVELS_PER_SIDE = 5000;
/** Largest accepted request body. */
export const MAX_BODY_BYTES = 1024 * 1024;

/**
 * One book side: an array of levels `[px, sz, ...]`. Only "an array of at most 5,000" is checked here, in one
 * step: a zod schema per level (even z.any()) walks 800 elements of a 400-level book, and a union per value costs
 * ~130 us a side, 20x the whole simulation. `parseBookSide` (simulate.ts) checks every level's shape and values in
 * one pass and reports the exact path; the OpenAPI metadata below documents the real contract.
 */
const side = (name: "bids" | "asks") =>
  z
    .custom<readonly unknown[]>((v) => Array.isArray(v) && v.length <= MAX_LEVELS_PER_SIDE, {
      error: (iss) =>
        Array.isArray(iss.input)
          ? `at most ${MAX_LEVELS_PER_SIDE} levels per side (got ${iss.input.length})`
          : `orderbook.${name} must be an array of levels [px, sz, ...]${iss.input === undefined ? " (it is required)" : ""}`,
    })
    .openapi({
      type: "array",
      maxItems: MAX_LEVELS_PER_SIDE,
      items: {
        type: "array",
        minItems: 2,
        maxItems: 8,
        items: { oneOf: [{ type: "string" }, { type: "number" }] },
        example: ["61800.3", "107.2", "0", "1"],
        description:
          "[price (quote per base), size (book units: contracts for derivatives, base currency for spot), ...ignored]. Values are decimal strings (as OKX sends them) or JSON numbers, finite and > 0.",
      },
      description:
        name === "bids"
          ? "Bid levels, best (highest price) first, strictly descending, no duplicates. Sizes in contracts for SWAP/FUTURES, base currency for SPOT — exactly as OKX publishes them."
          : "Ask levels, best (lowest price) first, strictly ascending, no duplicates. Sizes in contracts for SWAP/FUTURES, base currency for SPOT — exactly as OKX publishes them.",
    });

const positive = (what: string) => z.number({ error: `${what} must be a number` }).positive(`${what} must be > 0`);

/** Decimal as OKX sends it (a string) or a JSON number; its value is checked by the engine, which reports the path. */
const okxNumber = (description: string) =>
  z.union([z.number(), z.string().max(40)], { error: "must be a number or a decimal string" }).openapi({ description });
/** The same where OKX leaves a field empty ("") when it does not apply (e.g. ctVal of a spot pair). */
const okxNumberOrEmpty = (description: string) =>
  z
    .union([z.number(), z.string().max(40)], { error: 'must be a number, a decimal string or ""' })
    .openapi({ description });

export const OrderbookSchema = z
  .strictObject({
    bids: side("bids"),
    asks: side("asks"),
    ts: z
      .union([z.number().int().nonnegative(), z.string().regex(/^\d{1,19}$/, "ts must be Unix milliseconds as digits")])
      .optional()
      .openapi({
        description:
          "Book timestamp, Unix MILLISECONDS (OKX `ts`). Seconds and microseconds are rejected. When given, the response reports bookAgeMs against the server clock.",
        example: "1723161256509",
      }),
    checksum: z.number().int().min(-2147483648).max(2147483647).optional().openapi({
      description:
        "OKX's CRC32 of the top 25 levels (signed int32), as in a `books` push. Echoed back and verified against the levels sent.",
    }),
    seqId: z.number().int().optional().openapi({ description: "OKX `seqId` of the push. Echoed back." }),
    prevSeqId: z.number().int().optional().openapi({ description: "OKX `prevSeqId` of the push. Echoed back." }),
    instId: z.string().max(64).optional().openapi({
      description:
        "OKX puts instId in some book pushes (books5, bbo-tbt); when present it must equal the request's instId.",
    }),
  })
  .openapi({
    description:
      "The order book to execute against: an OKX `books` push `data[0]` verbatim (bids, asks, ts, checksum, seqId, prevSeqId). Omit it to use the live book of the instrument (the response says so).",
  });

/**
 * Fields of OKX's `GET /api/v5/public/instruments` records (docs-v5 "Get instruments", as of 2025). They are
 * accepted verbatim so a record can be pasted as `instrument`; the ones the simulator uses are listed in
 * `InstrumentInputSchema`, the others are ignored. Anything else is still rejected (a typo must not pass).
 */
const OKX_INSTRUMENT_EXTRA_FIELDS = [
  "instIdCode",
  "uly",
  "instFamily",
  "category",
  "alias",
  "optType",
  "stk",
  "listTime",
  "contTdSwTime",
  "openType",
  "expTime",
  "lever",
  "ruleType",
  "maxLmtSz",
  "maxLmtAmt",
  "maxTwapSz",
  "maxIcebergSz",
  "maxTriggerSz",
  "maxStopSz",
  "futureSettlement",
  "tradeQuoteCcyList",
  "seriesId",
  "groupId",
  "instCategory",
  "preMktSwTime",
  "auctionEndTime",
  "upcChg",
  "elp",
  "posLmtAmt",
  "posLmtPct",
  "maxPlatOILmt",
] as const;

/** The instrument types the simulator fills (OKX's OPTION is premium-quoted with its own fee cap: not modelled). */
const SIMULATED_INST_TYPES = ["SPOT", "MARGIN", "SWAP", "FUTURES"] as const;

/** OKX instrument states (docs-v5, Get instruments: `state`). */
const INSTRUMENT_STATES = ["live", "suspend", "preopen", "test"] as const;

const okxExtra = Object.fromEntries(
  OKX_INSTRUMENT_EXTRA_FIELDS.map((k) => [
    k,
    z.unknown().optional().openapi({ description: "OKX field, accepted and ignored." }),
  ]),
);

export const InstrumentInputSchema = z
  .strictObject({
    instType: z
      .enum(SIMULATED_INST_TYPES, {
        error: "instType must be SPOT, MARGIN, SWAP or FUTURES (options are not simulated)",
      })
      .openapi({ description: "OKX instrument type (options are not simulated)." }),
    ctVal: okxNumberOrEmpty(
      'Contract value in ctValCcy per contract (e.g. 0.01 BTC for BTC-USDT-SWAP, 100 USD for BTC-USD-SWAP). Required for SWAP/FUTURES; "" or absent for spot.',
    ).optional(),
    ctMult: okxNumberOrEmpty("Contract multiplier (default 1).").optional(),
    ctType: z.enum(["linear", "inverse", ""]).optional().openapi({
      description:
        'linear (USDT/USDC-margined, ctVal in the base coin) or inverse (crypto-margined, ctVal in USD). Required for SWAP/FUTURES; "" for spot as OKX sends it.',
    }),
    tickSz: okxNumber("Price tick, quote currency."),
    lotSz: okxNumber("Size step, book units (contracts or base currency)."),
    minSz: okxNumber("Minimum order size, book units."),
    maxMktSz: okxNumberOrEmpty(
      "OKX's largest market order: contracts for derivatives, USDT for SPOT/MARGIN (docs-v5). Enforced for ordType market (51202).",
    ).optional(),
    maxMktAmt: okxNumberOrEmpty(
      "OKX's largest market order in USD (SPOT/MARGIN). Enforced for ordType market (51201).",
    ).optional(),
    state: z.enum(INSTRUMENT_STATES).optional().openapi({
      description: "OKX instrument state; only live instruments trade (suspend -> 51022, preopen/test -> 51021).",
    }),
    instId: z
      .string()
      .max(64)
      .optional()
      .openapi({ description: "OKX's instId of the record; when present it must equal the request's instId." }),
    baseCcy: z.string().max(20).optional(),
    quoteCcy: z.string().max(20).optional(),
    settleCcy: z.string().max(20).optional(),
    ctValCcy: z.string().max(20).optional(),
    ...okxExtra,
  })
  .openapi({
    description:
      "Instrument spec: an OKX `GET /api/v5/public/instruments` record verbatim (all values strings, every OKX field accepted), or the same fields as JSON numbers. Omit it to resolve the spec from OKX REST (cached).",
  });

/** OKX `GET /api/v5/public/price-limit` data[0] (docs-v5, Get limit price), or just the two limits. */
const PriceLimitSchema = z
  .strictObject({
    buyLmt: okxNumberOrEmpty('Highest price a buy may fill at, quote per base ("" when enabled is false).'),
    sellLmt: okxNumberOrEmpty('Lowest price a sell may fill at, quote per base ("" when enabled is false).'),
    enabled: z
      .boolean()
      .optional()
      .openapi({ description: "Whether the limit is in force (OKX field; default true)." }),
    instId: z.string().max(64).optional(),
    instType: z.string().max(16).optional(),
    ts: z.union([z.string().max(20), z.number()]).optional(),
  })
  .openapi({
    description:
      "OKX price limit (GET /api/v5/public/price-limit data[0]). Market orders fill up to it and the rest is cancelled; ioc/fok with px beyond it are rejected (51006).",
  });

/** Most sizes in one cost-curve request. */
export const MAX_CURVE_SIZES = 64;

const ORD_TYPES = ["market", "ioc", "fok"] as const;

const quantity = {
  size: positive("size").openapi({
    description: "Order size in the BASE currency (e.g. BTC). Exactly one of size, contracts, notional.",
  }),
  contracts: positive("contracts").openapi({
    description: "Order size in CONTRACTS (derivatives only; OKX's `sz`). Exactly one of size, contracts, notional.",
    example: 250,
  }),
  notional: positive("notional").openapi({
    description:
      "Order size as QUOTE-currency notional (e.g. 100 USDT; USD for inverse contracts). For a SPOT market order this is OKX's tgtCcy=quote_ccy: spent exactly, not lot-rounded. Exactly one of size, contracts, notional.",
  }),
};

const QUANTITY_KEYS = ["size", "contracts", "notional"] as const;
/** The oneOf of the request schema (OpenAPI 3.1 boolean schemas; cast because the metadata type predates them). */
const QUANTITY_ONE_OF = QUANTITY_KEYS.map((k) => ({
  type: "object",
  required: [k],
  properties: Object.fromEntries(
    QUANTITY_KEYS.map((o) => [o, o === k ? { type: "number", exclusiveMinimum: 0 } : false]),
  ),
})) as unknown as { type: "object" }[];

export const SimulateRequestSchema = z
  .strictObject({
    instId: z
      .string()
      .max(64)
      .regex(INST_ID_RE, "instId must be an OKX instrument id, e.g. BTC-USDT, BTC-USDT-SWAP, BTC-USD-SWAP")
      .openapi({ example: "BTC-USDT-SWAP" }),
    side: z.enum(["buy", "sell"]).openapi({ description: "buy consumes asks, sell consumes bids." }),
    size: quantity.size.optional(),
    contracts: quantity.contracts.optional(),
    notional: quantity.notional.optional(),
    ordType: z.enum(ORD_TYPES).optional().openapi({
      description:
        "market (default), ioc (fill what is available at px or better, cancel the rest) or fok (all at px or better, or nothing).",
    }),
    px: okxNumber("Limit price for ioc/fok, quote per base. Not allowed for market orders.").optional(),
    orderbook: OrderbookSchema.optional(),
    instrument: InstrumentInputSchema.optional(),
    priceLimit: PriceLimitSchema.optional(),
    sizes: z
      .array(positive("sizes[]"))
      .min(1, "sizes needs at least one size")
      .max(MAX_CURVE_SIZES, `at most ${MAX_CURVE_SIZES} sizes`)
      .optional()
      .openapi({
        description: `Cost curve: up to ${MAX_CURVE_SIZES} order sizes in the unit of the order's quantity field, each simulated under the same rules in one pass over cumulative depth.`,
      }),
    maxSlippageBps: z
      .number()
      .min(0, "maxSlippageBps must be >= 0")
      .max(10_000, "maxSlippageBps must be <= 10000")
      .optional()
      .openapi({
        description:
          "Reverse query: the largest order (same unit and rules) whose slippage vs mid stays within this many bps.",
      }),
    includeFills: z
      .boolean()
      .optional()
      .openapi({ description: "Return the per-level fill breakdown (price, size, fee per level touched) in `fills`." }),
    feeTier: z.enum(FEE_TIERS).optional().openapi({
      description: "OKX fee tier (regular Lv1..Lv5, VIP1..VIP8). Default Lv1. Mutually exclusive with takerFeeRate.",
    }),
    takerFeeRate: z
      .number({ error: "takerFeeRate must be a number" })
      .min(0, "takerFeeRate must be >= 0")
      .max(0.01, "takerFeeRate is a decimal fraction (0.0005 = 0.05 %) and must be <= 0.01")
      .optional()
      .openapi({
        description: "Explicit taker fee rate as a decimal fraction (0.0005 = 0.05 %). Overrides the fee table.",
      }),
    volatility: z
      .strictObject({
        value: positive("volatility.value").max(
          100,
          "volatility.value is a fraction (0.6 = 60 % annualised) and must be <= 100",
        ),
        unit: z.enum(["per_second", "annualised"]).openapi({
          description: "per_second: std-dev of 1-second log returns; annualised: on a 24/7 clock of 31,536,000 s/year.",
        }),
      })
      .optional()
      .openapi({
        description:
          "Volatility of log returns as a fraction (0.6 = 60 %), with its unit. Used only for the pre-trade model estimate and the sigma-sqrt(t) latency risk.",
      }),
    latencyMs: z
      .number()
      .min(0, "latencyMs must be >= 0")
      .max(60_000, "latencyMs must be <= 60000")
      .optional()
      .openapi({
        description:
          "Order entry latency, milliseconds: sigma-sqrt(t) risk (needs volatility) and, on the live book, the empirical cost of filling latencyMs later.",
      }),
    adv24hBase: positive("adv24hBase").optional().openapi({
      description:
        "Average 24 h traded volume, BASE currency. Needed for the square-root-law participation; never assumed.",
    }),
    sqrtImpactY: positive("sqrtImpactY")
      .max(10, "sqrtImpactY must be <= 10")
      .optional()
      .openapi({ description: "Square-root-law coefficient Y (dimensionless, default 1)." }),
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
    const ord = v.ordType ?? "market";
    if (ord === "market" && v.px !== undefined)
      ctx.addIssue({
        code: "custom",
        message: "px applies to ioc/fok orders only; a market order has no price (set ordType)",
        path: ["px"],
      });
    if (ord !== "market" && v.px === undefined)
      ctx.addIssue({ code: "custom", message: `px is required for ordType ${ord}`, path: ["px"] });
  })
  .openapi("SimulateTradeRequest", {
    // "Exactly one of size / contracts / notional" for generated clients (the superRefine above enforces it at
    // runtime): each branch requires one quantity and forbids the other two with the JSON Schema `false` (OpenAPI
    // 3.1), which openapi-typescript turns into `?: never`, so a body with two quantities does not compile.
    oneOf: QUANTITY_ONE_OF,
    example: {
      instId: "BTC-USDT-SWAP",
      side: "buy",
      contracts: 250,
      orderbook: {
        ts: "1723161256509",
        bids: [["61800.2", "120", "0", "3"]],
        asks: [
          ["61800.3", "107.2", "0", "1"],
          ["61800.7", "0.2", "0", "1"],
          ["61801", "300", "0", "4"],
        ],
      },
      instrument: {
        instType: "SWAP",
        ctVal: "0.01",
        ctMult: "1",
        ctType: "linear",
        tickSz: "0.1",
        lotSz: "0.01",
        minSz: "0.01",
        maxMktSz: "12000",
        state: "live",
      },
      feeTier: "Lv1",
      volatility: { value: 0.5, unit: "annualised" },
      latencyMs: 50,
    },
  });

export type SimulateRequest = z.infer<typeof SimulateRequestSchema>;

const num = (description: string) => z.number().openapi({ description });
const numOrNull = (description: string) => z.number().nullable().openapi({ description });

const summaryShape = {
  filledBase: num("Filled size, base currency."),
  filledQuote: num("Filled notional, quote currency."),
  filledBookUnits: num("Filled size, book units (contracts for derivatives, base for spot)."),
  avgPrice: numOrNull("VWAP, quote per base (null when nothing fills)."),
  vsMidBps: numOrNull("(avgPrice - mid) cost-signed, bps of mid."),
  feeQuote: num("Taker fee valued in quote currency."),
  netCostBps: numOrNull("Slippage vs mid plus fee, bps of the filled notional at mid."),
  fullyFilled: z.boolean(),
  levelsConsumed: z.number().int(),
};

const fillLevel = z.object({
  price: num("Level price, quote per base."),
  sizeBookUnits: num("Size taken at this level, book units."),
  base: num("Base currency taken at this level."),
  quote: num("Quote notional taken at this level."),
  feeInFeeCcy: num("Taker fee for this level, in fee.currency."),
});

/** Every error code the API answers with (the `code` of an error body). */
export const ERROR_CODES = [
  "invalid_json",
  "invalid_request",
  "invalid_level",
  "invalid_price",
  "invalid_size",
  "unsorted_book",
  "duplicate_price",
  "crossed_book",
  "invalid_ts",
  "invalid_instrument",
  "instrument_mismatch",
  "unit_not_applicable",
  "body_too_large",
  "unsupported_media_type",
  "below_min_size",
  "below_lot_size",
  "lot_size_mismatch",
  "unknown_instrument",
  "unsupported_instrument",
  "empty_book_side",
  "instrument_not_live",
  "market_size_exceeded",
  "market_amount_exceeded",
  "price_out_of_limit",
  "no_fill",
  "out_of_range",
  "instrument_lookup_failed",
  "live_book_unavailable",
  "rate_limited",
  "not_found",
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export const SimulateResponseSchema = z
  .object({
    instId: z.string(),
    side: z.enum(["buy", "sell"]),
    ordType: z.enum(ORD_TYPES),
    status: z.enum(["filled", "partially_filled"]).openapi({
      description:
        "What OKX would report: filled, or partially_filled with the rest cancelled (book exhausted, price limit, ioc at px).",
    }),
    takerShare: z.literal(1).openapi({
      description:
        "Fraction of the order executed as taker: a market/ioc/fok order takes liquidity, so this is 1 by definition (stated, not predicted).",
    }),
    order: z.object({
      requestedInRequestedUnit: num("The size as requested, in requestedUnit."),
      requestedUnit: z
        .enum(["base", "contracts", "quote"])
        .openapi({ description: "base = base currency, contracts = contracts, quote = quote-currency notional." }),
      bookUnit: z.enum(["contracts", "base"]).openapi({
        description: "Unit of book sizes and *BookUnits fields: contracts for derivatives, base currency for spot.",
      }),
      tgtCcy: z.enum(["base_ccy", "quote_ccy"]).nullable().openapi({
        description:
          "OKX tgtCcy of a SPOT market order (quote_ccy: notional spent exactly, not lot-rounded); null otherwise.",
      }),
      px: numOrNull("Limit price of an ioc/fok order, quote per base; null for market."),
      targetBookUnits: num(
        "Requested size converted to book units before lot rounding (price-dependent conversions are solved on the book).",
      ),
      orderBookUnits: num(
        "OKX `sz` in book units after rounding DOWN to lotSz (for tgtCcy=quote_ccy: the book units the notional buys).",
      ),
      lotSz: num("Size step, book units."),
      minSz: num("Minimum order size, book units."),
      lotRoundingApplied: z
        .boolean()
        .openapi({ description: "True when a converted size was rounded down to a multiple of lotSz." }),
      lotRoundedOffBookUnits: num("targetBookUnits - orderBookUnits, book units (>= 0)."),
    }),
    fill: z.object({
      filledContracts: numOrNull("Filled size in contracts; null for spot."),
      filledBase: num("Filled size, base currency (inverse contracts: sum of contracts*ctVal*ctMult/price)."),
      filledQuote: num("Filled notional, quote currency (inverse contracts: contracts*ctVal*ctMult USD)."),
      avgPrice: num(
        "Average fill price (VWAP = filledQuote / filledBase), quote per base. Harmonic contract-weighted mean for inverse contracts, as OKX averages them.",
      ),
      bestPrice: num("First (best) level price touched, quote per base."),
      midPrice: num("Book mid ((best bid + best ask) / 2) before the order, quote per base."),
      worstPrice: num("Last (worst) level price touched, quote per base."),
      levelsConsumed: z.number().int().openapi({ description: "Levels touched, fully or partly." }),
      fullyFilled: z.boolean().openapi({
        description: "False when the order stopped early (see endReason); the rest is cancelled, as OKX does.",
      }),
      endReason: z.enum(["filled", "book_exhausted", "price_limit", "limit_price"]).openapi({
        description:
          "filled; book_exhausted (the side ran out; see book.depthTruncated); price_limit (OKX's buyLmt/sellLmt stopped a market order); limit_price (an ioc order's px).",
      }),
      unfilledInRequestedUnit: num(
        "Cancelled remainder in requestedUnit (0 when fully filled; lot rounding is in order.lotRoundedOffBookUnits).",
      ),
      unfilledBookUnits: numOrNull(
        "Cancelled remainder in book units; null when it depends on prices beyond the usable book (notional/base sizes that exhausted it).",
      ),
    }),
    fills: z
      .array(fillLevel)
      .nullable()
      .openapi({ description: "Per-level breakdown when includeFills is true; null otherwise." }),
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
      amountInFeeCcy: num(
        "Fee in `currency` (spot buy: base coin; spot sell: quote; linear: settle currency; inverse: the coin).",
      ),
      currency: z.string(),
      amountQuote: num("Fee valued in quote currency at avgPrice (= rate * filledQuote)."),
      verified: z.boolean().openapi({
        description:
          "False when the fee-table row is an unverified reconstruction or the instrument is USDC-quoted/settled (own schedule, not in the table); true for takerFeeRate.",
      }),
      tableSource: z.string(),
    }),
    marketImpact: z.object({
      walkTheBook: z.object({
        avgVsBestBps: num(
          "Average fill vs best price, bps of best (cost-signed). The order's measured temporary impact.",
        ),
        avgVsBestQuote: num("The same in quote currency."),
        touchMoveBps: num("Worst touched vs best price, bps of best: how far the order pushed through the book."),
      }),
      preTrade: z.object({
        model: z.literal("square_root_law"),
        formula: z.string(),
        available: z.boolean().openapi({
          description: "False when volatility or adv24hBase is missing (see `missing`); nothing is assumed.",
        }),
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
          latencyMs: num("Order entry latency assumed, milliseconds."),
          sigmaSqrtT: z.object({
            available: z.boolean(),
            reason: z.string().nullable().openapi({ description: "Why it is unavailable (null when available)." }),
            oneSigmaBps: numOrNull(
              "1-sigma price move during the latency, bps (risk, zero expected cost; not in netCost).",
            ),
            oneSigmaQuote: numOrNull("The same in quote currency over the filled notional."),
          }),
          empirical: z.object({
            available: z.boolean(),
            reason: z.string().nullable().openapi({ description: "Why it is unavailable (null when available)." }),
            decisions: z.number().int().openapi({ description: "Past decision points evaluated." }),
            skipped: z
              .number()
              .int()
              .openapi({ description: "Decision points skipped (the stored top levels could not fill the order)." }),
            windowMs: numOrNull("Span of the recent stream used, milliseconds."),
            meanBps: numOrNull(
              "Mean of (cost filling latencyMs later - cost filling at once), bps of the decision mid; positive = latency costs you.",
            ),
            p50Bps: numOrNull("Median of the same, bps."),
            p95Bps: numOrNull("95th percentile of the same, bps."),
            note: z.string(),
          }),
        })
        .nullable()
        .openapi({ description: "Present when latencyMs was given." }),
    }),
    netCost: z.object({
      quote: num(
        "Total cost of the fill vs mid, quote currency = halfSpreadQuote + bookImpactQuote + feeQuote (= slippage.vsMidQuote + fee.amountQuote).",
      ),
      bps: num("netCost.quote over filledBase * mid, basis points."),
      inSettleCcy: numOrNull(
        "Net cost in the settlement currency (inverse: the coin, slippage converted at mid + coin fee; linear: = quote); null for spot.",
      ),
      settleCcy: z.string().nullable(),
      components: z.object({
        halfSpreadQuote: num("sign * (bestPrice - mid) * filledBase, quote currency."),
        bookImpactQuote: num("sign * (avgPrice - bestPrice) * filledBase, quote currency (walk-the-book impact)."),
        feeQuote: num("Taker fee in quote currency."),
      }),
      formula: z.string(),
    }),
    currencies: z.object({ base: z.string(), quote: z.string(), settle: z.string().nullable(), fee: z.string() }),
    instrument: z.object({
      instType: z.enum(SIMULATED_INST_TYPES),
      ctType: z.enum(["linear", "inverse"]),
      ctVal: num("Contract value, ctValCcy per contract (1 for spot)."),
      ctMult: num("Contract multiplier."),
      ctValCcy: z.string(),
      tickSz: num("Price tick, quote currency."),
      lotSz: num("Size step, book units."),
      minSz: num("Minimum size, book units."),
      maxMktSz: numOrNull("OKX's largest market order (contracts; USDT for spot); null when unknown."),
      maxMktAmt: numOrNull("OKX's largest spot market order, USD; null when unknown or not applicable."),
      state: z.enum(INSTRUMENT_STATES).nullable(),
      source: z.enum(["request", "okx_rest", "cache"]).openapi({ description: "Where the spec came from." }),
    }),
    priceLimit: z.object({
      buyLmt: numOrNull("Highest buy price, quote per base; null when none applies."),
      sellLmt: numOrNull("Lowest sell price, quote per base; null when none applies."),
      source: z.enum(["request", "okx_rest", "none"]),
      note: z.string().nullable(),
    }),
    book: z.object({
      source: z.enum(["request", "live"]).openapi({
        description: "request: the orderbook you sent; live: the relay's live book for instId (orderbook omitted).",
      }),
      ts: numOrNull("Book timestamp, Unix ms (null when not given)."),
      bookAgeMs: numOrNull(
        "Server clock minus ts, milliseconds (negative: the book's clock is ahead); null without ts.",
      ),
      bidLevels: z.number().int(),
      askLevels: z.number().int(),
      bestBid: num("Quote per base."),
      bestAsk: num("Quote per base."),
      midPrice: num("Quote per base."),
      spreadBps: num("(bestAsk - bestBid) / mid, basis points."),
      depthTruncated: z.boolean().nullable().openapi({
        description:
          "Whether the consumed side is a cut of a deeper book: true for the live book at its 400-level cap, false for a live side below the cap (all OKX sent), null for a request book (unknown).",
      }),
      seqId: numOrNull("OKX seqId echoed from the request book."),
      prevSeqId: numOrNull("OKX prevSeqId echoed from the request book."),
      checksum: numOrNull("OKX checksum echoed from the request book."),
      checksumValid: z.boolean().nullable().openapi({
        description: "Whether the echoed checksum matches the CRC32 of the levels sent (null without a checksum).",
      }),
    }),
    costCurve: z
      .array(z.object({ requestedInRequestedUnit: num("Size in requestedUnit."), ...summaryShape }))
      .nullable()
      .openapi({
        description: "One entry per `sizes` element (same order), same rules as the main order; null without sizes.",
      }),
    maxSize: z
      .object({
        maxSlippageBps: num("The bound asked for, bps vs mid."),
        largestInRequestedUnit: num("Largest size within it, requestedUnit (0 when even the first lot exceeds it)."),
        largestBookUnits: num("The same in book units (a multiple of lotSz)."),
        ...summaryShape,
      })
      .nullable()
      .openapi({ description: "Answer to maxSlippageBps; null without it." }),
    engineTimeUs: numOrNull(
      "The pure engine's processing time (book parsing and validation + fill + costs), microseconds, via performance.now(). null in Cloudflare Workers, whose timers do not advance during synchronous work (Spectre mitigation): there is nothing honest to report; run the engine locally (Node) for real numbers.",
    ),
    warnings: z.array(z.string()).openapi({
      description: "Things you should know: lot rounding, thin book, stale book, unverified fee row, assumed defaults.",
    }),
  })
  .openapi("SimulateTradeResponse");

export type SimulateResponse = z.infer<typeof SimulateResponseSchema>;

const problem = z.object({
  code: z.enum(ERROR_CODES),
  message: z.string(),
  path: z.string().optional(),
});

export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.enum(ERROR_CODES).openapi({ description: "Stable machine-readable code." }),
      message: z.string().openapi({ description: "What is wrong and how to fix it." }),
      path: z
        .string()
        .optional()
        .openapi({ description: "JSON path of the offending field, e.g. orderbook.bids[3][1]." }),
      okxCode: z
        .string()
        .optional()
        .openapi({ description: "For rules OKX enforces: the sCode OKX would answer with (e.g. 51202)." }),
      problems: z
        .array(problem)
        .optional()
        .openapi({ description: "Every validation problem found (the first is repeated in code/message/path)." }),
    }),
  })
  .openapi("Error");
