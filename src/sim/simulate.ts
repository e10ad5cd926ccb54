/**
 * `simulateTrade`: validated request + resolved instrument (+ live book) -> response object. Pure and synchronous:
 * the route does the I/O (instrument look-up, live book) and the zod validation; this module does the market math
 * via fill.ts, fees.ts and impact.ts, and times itself with performance.now().
 *
 * It never throws for bad input: every problem comes back as `{ ok: false, error: { status, code, message, path } }`
 * with a message that says what to fix, because a simulator that guesses produces confident wrong numbers.
 */
import { FEE_TABLE_SOURCE, feeRow, feeScheduleFor, takerFee, type FeeTier } from "./fees.js";
import { fillMarketOrder, type OrderUnit, type PriceLevel } from "./fill.js";
import { costSign, latencyRisk, sigmaPerSecond, SECONDS_PER_DAY, SECONDS_PER_YEAR, sqrtLawEstimate, walkTheBookImpact } from "./impact.js";
import { isSpotLike, type InstrumentSpec } from "./instruments.js";
import type { SimulateRequest, SimulateResponse } from "./schema.js";

/** A book as the relay holds it (src/okx/book.ts `Book` satisfies this): sides best-first, ts in Unix ms. */
export interface LiveBook {
  readonly bids: readonly PriceLevel[];
  readonly asks: readonly PriceLevel[];
  /** Exchange timestamp of the last applied message, Unix ms (0 if unknown). */
  readonly ts: number;
}

/**
 * Provider of the live book of an instrument (the relay's Durable Object), injected by whoever mounts the route.
 * Resolve to null when there is no live book for `instId` (not subscribed, not synced); the route answers 503.
 */
export type LiveBookFn = (instId: string) => Promise<LiveBook | null>;

export interface SimError {
  readonly status: 400 | 422 | 503;
  readonly code: string;
  readonly message: string;
  readonly path?: string;
}

export type SimulateOutcome = { readonly ok: true; readonly response: SimulateResponse } | { readonly ok: false; readonly error: SimError };

export interface SimulateInput {
  /** The request, already validated by `SimulateRequestSchema`. */
  readonly request: SimulateRequest;
  readonly instrument: InstrumentSpec;
  readonly instrumentSource: "request" | "okx_rest" | "cache";
  /** Required when `request.orderbook` is absent. */
  readonly liveBook?: LiveBook | undefined;
  /** Server clock, Unix ms (for bookAgeMs). */
  readonly nowMs: number;
}

/** OKX-style decimal (digits, optional fraction, optional exponent). Rejects "", " 1", "0x10", "NaN", "Infinity". */
const DECIMAL_RE = /^(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
/** Longest decimal string accepted (a double needs 17 significant digits; 40 leaves room for zeros and an exponent). */
const MAX_DECIMAL_CHARS = 40;
/** Longest string the fast path takes: 15 characters hold at most 15 digits, so the digits are an exact integer. */
const FAST_DECIMAL_CHARS = 15;
/** Exact powers of ten up to 10^15. */
const POW10 = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];

/**
 * Parse a decimal string exactly as `Number()` would; NaN for anything that is not a plain decimal (DECIMAL_RE) of
 * at most 40 characters. It runs on every price and size of a request book, where Number() costs ~45 ns a string
 * (a runtime call) and charCodeAt ~2 ns a character, so OKX's shape ("61800.3", "107.2") takes a fast path that reads
 * each character once and branches as little as possible. Fast path (Clinger): at most 15 characters means at most
 * 15 digits, an exact integer m < 2^53, and 10^k is exact, so the single IEEE division m / 10^k is correctly
 * rounded, i.e. bit-identical to Number(s). Anything else (exponents, longer strings, junk) goes to `slowDecimal`.
 */
export function parseDecimal(s: string): number {
  const n = s.length;
  if (n === 0 || n > FAST_DECIMAL_CHARS) return slowDecimal(s);
  // c - 48 as unsigned: one compare tells a digit ('0'..'9' -> 0..9) from anything else; '.' is -2.
  let c = s.charCodeAt(0) - 48;
  let m = 0;
  let i = 0;
  while (c >>> 0 <= 9) {
    m = m * 10 + c;
    if (++i === n) return m;
    c = s.charCodeAt(i) - 48;
  }
  if (c !== -2 || n === 1) return slowDecimal(s);
  const dot = i;
  while (++i < n) {
    c = s.charCodeAt(i) - 48;
    if (c >>> 0 > 9) return slowDecimal(s);
    m = m * 10 + c;
  }
  return m / POW10[n - dot - 1]!;
}

/** The general case of `parseDecimal`: the regex decides what is a decimal, Number() its value. */
function slowDecimal(s: string): number {
  return s.length <= MAX_DECIMAL_CHARS && DECIMAL_RE.test(s) ? +s : NaN;
}

function toNumber(v: unknown): number {
  if (typeof v === "number") return v;
  return typeof v === "string" ? parseDecimal(v) : NaN;
}

function fail(status: SimError["status"], code: string, message: string, path?: string): { ok: false; error: SimError } {
  return { ok: false, error: path === undefined ? { status, code, message } : { status, code, message, path } };
}

/**
 * Parse and validate one side of a request book: every price and size a finite positive number, prices strictly
 * monotone best-first (bids descending, asks ascending), no duplicate prices. Nothing is sorted or dropped
 * silently: a book that is not what OKX would send is rejected with the path of the first bad value.
 *
 * Every level is validated, but only the best `keep` are returned: the side an order does not consume needs just
 * its best level, and not allocating the other ~400 level objects is a tenth of the engine's time.
 */
export function parseBookSide(raw: readonly unknown[], name: "bids" | "asks", keep = raw.length): PriceLevel[] | SimError {
  const desc = name === "bids";
  const out = new Array<PriceLevel>(Math.min(keep, raw.length));
  let prev = NaN;
  for (let i = 0; i < raw.length; i++) {
    const l = raw[i];
    if (!Array.isArray(l) || l.length < 2 || l.length > 8) {
      return { status: 400, code: "invalid_level", message: `a level is [price, size, ...] with 2 to 8 elements (OKX format), got ${JSON.stringify(l)?.slice(0, 60)}`, path: `orderbook.${name}[${i}]` };
    }
    const price = toNumber(l[0]);
    const size = toNumber(l[1]);
    if (!(price > 0) || !Number.isFinite(price)) {
      return { status: 400, code: "invalid_price", message: `price must be a finite decimal > 0 (string or number), got ${JSON.stringify(l[0]) ?? "undefined"}`, path: `orderbook.${name}[${i}][0]` };
    }
    if (!(size > 0) || !Number.isFinite(size)) {
      return { status: 400, code: "invalid_size", message: `size must be a finite decimal > 0 (book units: contracts for derivatives, base for spot), got ${JSON.stringify(l[1]) ?? "undefined"}`, path: `orderbook.${name}[${i}][1]` };
    }
    if (i > 0) {
      if (price === prev) return { status: 400, code: "duplicate_price", message: `price ${String(l[0])} appears twice in ${name}; merge the levels`, path: `orderbook.${name}[${i}][0]` };
      if (desc ? price > prev : price < prev) {
        return {
          status: 400,
          code: "unsorted_book",
          message: `${name} must be sorted best first (${desc ? "descending" : "ascending"} price): ${name}[${i}] ${String(l[0])} comes after ${prev}`,
          path: `orderbook.${name}[${i}][0]`,
        };
      }
    }
    if (i < keep) out[i] = { price, size };
    prev = price;
  }
  return out;
}

/** Same checks for an already-numeric side (the live book); no allocation. Returns a reason or null. */
export function checkNumericSide(side: readonly PriceLevel[], desc: boolean): string | null {
  let prev = NaN;
  for (let i = 0; i < side.length; i++) {
    const { price, size } = side[i]!;
    if (!(price > 0) || !Number.isFinite(price) || !(size > 0) || !Number.isFinite(size)) return `level ${i} is not positive and finite`;
    if (i > 0 && (price === prev || (desc ? price > prev : price < prev))) return `level ${i} is out of order`;
    prev = price;
  }
  return null;
}

const UNIT_OF: Record<"size" | "contracts" | "notional", OrderUnit> = { size: "base", contracts: "contracts", notional: "quote" };

function onTick(p: number, tick: number): boolean {
  const r = p / tick;
  return Math.abs(r - Math.round(r)) <= 1e-6 + 1e-9 * Math.abs(r);
}

const SQRT_FORMULA = "impact/mid = Y * sigmaDaily * sqrt(filledBase / adv24hBase), sigmaDaily = sigmaPerSecond * sqrt(86400)";
const SQRT_NOTE =
  "Square-root law of metaorder impact (Almgren et al. 2005; Toth et al. 2011): a pre-trade yardstick of how large the order is relative to typical liquidity. It is NOT added to netCost: the fill's realised impact is the walk-the-book figure.";
const AC_REASON =
  "Almgren-Chriss optimises a schedule over a horizon T; its temporary impact depends on the trading rate. A market order executes at once (T -> 0), so there is no schedule and no temporary-impact term to evaluate; its temporary impact is the walk-the-book figure.";
const CLOCK = "24/7 market: 86,400 s/day, 365 days = 31,536,000 s/year (not 252 trading days)";
const NET_FORMULA = "netCost = halfSpread + bookImpact + fee = slippage.vsMidQuote + fee.amountQuote (model estimate and latency risk excluded: they would double count)";
const STALE_BOOK_MS = 5_000;
/**
 * Cloudflare Workers freeze performance.now() during synchronous execution (Spectre mitigation); a reading there
 * would be 0 or a clock-granularity artefact, so the response says null instead of printing a fake number.
 */
const FROZEN_CLOCK = (globalThis as { navigator?: { userAgent?: string } }).navigator?.userAgent === "Cloudflare-Workers";

/**
 * Simulate a market order. See the module comment; `input.request` must already satisfy SimulateRequestSchema.
 * Units: prices quote per base; *Base in base currency; *Quote in quote currency; *BookUnits in contracts
 * (derivatives) or base (spot); bps relative to the stated reference.
 */
export function simulateTrade(input: SimulateInput): SimulateOutcome {
  const t0 = performance.now();
  const { request: req, instrument: inst } = input;
  const warnings: string[] = [];

  const schedule = feeScheduleFor(inst.instType);
  if (schedule === null) {
    return fail(422, "unsupported_instrument", `${inst.instType} instruments are not simulated (option premiums and their fee cap need their own model); use SPOT, MARGIN, SWAP or FUTURES`, "instId");
  }

  // --- Book -------------------------------------------------------------------------------------------------
  const side = req.side;
  // A request book's side the order does not consume keeps only its best level (all of it is validated): the
  // engine needs its top for the mid, its count for the response.
  let bids: readonly PriceLevel[];
  let asks: readonly PriceLevel[];
  let bidLevels: number;
  let askLevels: number;
  let bookTs: number | null = null;
  let bookSource: "request" | "live";
  if (req.orderbook !== undefined) {
    const { bids: rawBids, asks: rawAsks } = req.orderbook;
    const b = parseBookSide(rawBids, "bids", side === "sell" ? rawBids.length : 1);
    if (!Array.isArray(b)) return { ok: false, error: b };
    const a = parseBookSide(rawAsks, "asks", side === "buy" ? rawAsks.length : 1);
    if (!Array.isArray(a)) return { ok: false, error: a };
    bids = b;
    asks = a;
    bidLevels = rawBids.length;
    askLevels = rawAsks.length;
    bookSource = "request";
    if (req.orderbook.ts !== undefined) {
      bookTs = Number(req.orderbook.ts);
      if (bookTs < 1e12) return fail(400, "invalid_ts", `orderbook.ts must be Unix MILLISECONDS (got ${bookTs}, which looks like seconds)`, "orderbook.ts");
    }
  } else {
    const live = input.liveBook;
    if (live === undefined) return fail(503, "live_book_unavailable", `no live book for ${req.instId}; send the book in "orderbook"`, "orderbook");
    const bad = checkNumericSide(live.bids, true) ?? checkNumericSide(live.asks, false);
    if (bad !== null) return fail(503, "live_book_unavailable", `the live book for ${req.instId} is inconsistent (${bad}); retry, or send the book in "orderbook"`, "orderbook");
    bids = live.bids;
    asks = live.asks;
    bidLevels = bids.length;
    askLevels = asks.length;
    bookSource = "live";
    bookTs = live.ts > 0 ? live.ts : null;
    warnings.push("orderbook omitted: simulated against the relay's live book for this instrument");
  }
  if (bids.length === 0 || asks.length === 0) {
    const which = bids.length === 0 ? "bids" : "asks";
    return fail(422, "empty_book_side", `orderbook.${which} is empty: a fill needs the side it consumes and the mid needs both`, `orderbook.${which}`);
  }
  const bestBid = bids[0]!.price;
  const bestAsk = asks[0]!.price;
  if (bestBid >= bestAsk) {
    return fail(400, "crossed_book", `crossed book: best bid ${bestBid} >= best ask ${bestAsk}; send a consistent snapshot`, "orderbook");
  }
  const mid = (bestBid + bestAsk) / 2;
  if (!onTick(bestBid, inst.tickSz) || !onTick(bestAsk, inst.tickSz)) {
    warnings.push(`best prices are not multiples of tickSz ${inst.tickSz}: check that the book and the instrument spec belong together`);
  }
  if (!onTick(bids[0]!.size, inst.lotSz) || !onTick(asks[0]!.size, inst.lotSz)) {
    warnings.push(`best-level sizes are not multiples of lotSz ${inst.lotSz}: check the instrument spec (book sizes must be ${isSpotLike(inst.instType) ? "base currency" : "contracts"})`);
  }
  const bookAgeMs = bookTs === null ? null : input.nowMs - bookTs;
  if (bookAgeMs !== null && bookAgeMs > STALE_BOOK_MS) warnings.push(`book is ${Math.round(bookAgeMs)} ms old: prices may have moved`);
  if (bookAgeMs !== null && bookAgeMs < -STALE_BOOK_MS) warnings.push(`book ts is ${Math.round(-bookAgeMs)} ms in the future: clocks disagree`);

  // --- Fill --------------------------------------------------------------------------------------------------
  const key = req.size !== undefined ? "size" : req.contracts !== undefined ? "contracts" : "notional";
  const unit = UNIT_OF[key];
  const amount = (req.size ?? req.contracts ?? req.notional)!;
  const fill = fillMarketOrder(side === "buy" ? asks : bids, inst, unit, amount);
  const spot = isSpotLike(inst.instType);
  if (!fill.ok) {
    const status = fill.code === "unit_not_applicable" ? 400 : 422;
    const bookUnit = spot ? inst.baseCcy || "base currency" : "contracts";
    return fail(status, fill.code, fill.message.replace(/book units/g, bookUnit), key);
  }
  const kind = spot ? "spot" : inst.ctType;
  if (fill.lotRoundingApplied) {
    warnings.push(`size rounded down to lotSz ${inst.lotSz}: ${fill.lotRoundedOffBookUnits} ${spot ? "base" : "contracts"} not simulated`);
  }
  if (!fill.fullyFilled) warnings.push(`book too thin: ${fill.unfilledAmount} ${unit} left unfilled after ${fill.levelsConsumed} levels`);

  // --- Costs -------------------------------------------------------------------------------------------------
  const s = costSign(side);
  const { avgPrice, bestPrice, worstPrice, filledBase, filledQuote } = fill;
  const vsMidQuote = s * (avgPrice - mid) * filledBase;
  const vsBestQuote = s * (avgPrice - bestPrice) * filledBase;
  const halfSpreadQuote = s * (bestPrice - mid) * filledBase;

  let rate: number;
  let tier: FeeTier | null;
  let rateSource: "feeTier" | "takerFeeRate" | "default Lv1";
  let verified: boolean;
  if (req.takerFeeRate !== undefined) {
    rate = req.takerFeeRate;
    tier = null;
    rateSource = "takerFeeRate";
    verified = true;
  } else {
    tier = req.feeTier ?? "Lv1";
    rateSource = req.feeTier === undefined ? "default Lv1" : "feeTier";
    const row = feeRow(schedule, tier);
    rate = row.taker;
    verified = row.verified;
    if (req.feeTier === undefined) warnings.push("feeTier not given: assumed Lv1 (OKX's base tier)");
    if (!verified) warnings.push(`fee table row ${schedule}/${tier} is an unverified reconstruction; send takerFeeRate if you know your rate`);
  }
  const fee = takerFee(rate, side, kind, filledBase, filledQuote, inst);

  const netQuote = vsMidQuote + fee.amountQuote;
  let netSettle: number | null = null;
  if (kind === "inverse") netSettle = vsMidQuote / mid + fee.amount;
  else if (kind === "linear") netSettle = netQuote;

  // --- Impact ------------------------------------------------------------------------------------------------
  const walk = walkTheBookImpact(side, avgPrice, bestPrice, worstPrice, filledBase);
  const sigS = req.volatility === undefined ? undefined : sigmaPerSecond(req.volatility.value, req.volatility.unit);
  const est = sqrtLawEstimate({ sigmaPerSecond: sigS, adv24hBase: req.adv24hBase, qtyBase: filledBase, refPrice: mid, y: req.sqrtImpactY });
  let latency: SimulateResponse["marketImpact"]["latency"] = null;
  if (req.latencyMs !== undefined) {
    if (sigS === undefined) latency = { latencyMs: req.latencyMs, available: false, oneSigmaBps: null, oneSigmaQuote: null };
    else {
      const r = latencyRisk(sigS, req.latencyMs, filledBase * mid);
      latency = { latencyMs: r.latencyMs, available: true, oneSigmaBps: r.oneSigmaBps, oneSigmaQuote: r.oneSigmaQuote };
    }
  }

  const response: SimulateResponse = {
    instId: req.instId,
    side,
    takerShare: 1,
    order: {
      requestedAmount: amount,
      requestedUnit: unit,
      bookUnit: spot ? "base" : "contracts",
      targetBookUnits: fill.targetBookUnits,
      orderBookUnits: fill.orderBookUnits,
      lotSz: inst.lotSz,
      minSz: inst.minSz,
      lotRoundingApplied: fill.lotRoundingApplied,
      lotRoundedOffBookUnits: fill.lotRoundedOffBookUnits,
    },
    fill: {
      filledContracts: spot ? null : fill.filledBookUnits,
      filledBase,
      filledQuote,
      avgPrice,
      bestPrice,
      midPrice: mid,
      worstPrice,
      levelsConsumed: fill.levelsConsumed,
      fullyFilled: fill.fullyFilled,
      unfilledAmount: fill.unfilledAmount,
      unfilledBookUnits: fill.unfilledBookUnits,
    },
    slippage: {
      vsMidBps: (s * (avgPrice - mid) * 1e4) / mid,
      vsMidQuote,
      vsBestBps: walk.avgVsBestBps,
      vsBestQuote,
    },
    fee: { schedule, tier, rateSource, rate, amount: fee.amount, currency: fee.currency, amountQuote: fee.amountQuote, verified, tableSource: FEE_TABLE_SOURCE },
    marketImpact: {
      walkTheBook: walk,
      preTrade: {
        model: "square_root_law",
        formula: SQRT_FORMULA,
        available: est.available,
        missing: est.available ? [] : [...est.missing],
        y: est.y,
        sigmaPerSecond: sigS ?? null,
        sigmaDaily: sigS === undefined ? null : sigS * Math.sqrt(SECONDS_PER_DAY),
        sigmaAnnualised: sigS === undefined ? null : sigS * Math.sqrt(SECONDS_PER_YEAR),
        adv24hBase: req.adv24hBase ?? null,
        participation: est.available ? est.participation : null,
        impactBps: est.available ? est.impactBps : null,
        impactQuote: est.available ? est.impactQuote : null,
        clock: CLOCK,
        note: SQRT_NOTE,
      },
      almgrenChriss: { applicable: false, reason: AC_REASON },
      latency,
    },
    netCost: {
      quote: netQuote,
      bps: (netQuote * 1e4) / (filledBase * mid),
      settle: netSettle,
      settleCcy: kind === "spot" ? null : inst.settleCcy,
      components: { halfSpreadQuote, bookImpactQuote: vsBestQuote, feeQuote: fee.amountQuote },
      formula: NET_FORMULA,
    },
    currencies: { base: inst.baseCcy, quote: inst.quoteCcy, settle: inst.settleCcy, fee: fee.currency },
    instrument: {
      instType: inst.instType,
      ctType: inst.ctType,
      ctVal: inst.ctVal,
      ctMult: inst.ctMult,
      ctValCcy: inst.ctValCcy,
      tickSz: inst.tickSz,
      lotSz: inst.lotSz,
      minSz: inst.minSz,
      source: input.instrumentSource,
    },
    book: {
      source: bookSource,
      ts: bookTs,
      bookAgeMs,
      bidLevels,
      askLevels,
      bestBid,
      bestAsk,
      midPrice: mid,
      spreadBps: ((bestAsk - bestBid) * 1e4) / mid,
    },
    engineTimeUs: 0,
    warnings,
  };
  response.engineTimeUs = FROZEN_CLOCK ? null : (performance.now() - t0) * 1000;
  return { ok: true, response };
}
