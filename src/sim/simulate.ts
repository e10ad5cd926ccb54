/**
 * `simulateTrade`: validated request + resolved instrument (+ live book) -> response object. Pure and synchronous:
 * the route does the I/O (instrument look-up, live book) and the zod validation; this module does the market math
 * via fill.ts, fees.ts and impact.ts, and times itself with performance.now().
 *
 * It never throws for bad input: every problem comes back as `{ ok: false, error: { status, code, message, path } }`
 * with a message that says what to fix, because a simulator that guesses produces confident wrong numbers.
 */
import { okxChecksum } from "../okx/checksum.js";
import {
  costCurve,
  depthProfile,
  fillBookUnits,
  largestWithinSlippage,
  type CurvePoint,
  type CurveReject,
} from "./curve.js";
import { FEE_TABLE_SOURCE, feeRow, feeScheduleFor, takerFee, type FeeTier } from "./fees.js";
import { fillMarketOrder, type FillResult, type OrderUnit, type PriceLevel } from "./fill.js";
import { latencyCostDistribution, type BookHistorySnapshot } from "./history.js";
import {
  costSign,
  latencyRisk,
  sigmaPerSecond,
  SECONDS_PER_DAY,
  SECONDS_PER_YEAR,
  sqrtLawEstimate,
  walkTheBookImpact,
} from "./impact.js";
import { isSpotLike, type InstrumentSpec } from "./instruments.js";
import {
  checkLotMultiple,
  checkMarketCaps,
  checkPxWithinLimit,
  checkState,
  usableLevels,
  type RuleReject,
} from "./rules.js";
import type { ErrorCode, SimulateRequest, SimulateResponse } from "./schema.js";

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

/** Provider of the relay's recent book history (src/sim/history.ts) for an instrument; null when it has none. */
export type BookHistoryFn = (instId: string) => Promise<BookHistorySnapshot | null>;

/** Levels per side the relay serves as the live book (OKX's `books` channel depth): a side this long may be cut. */
export const LIVE_BOOK_DEPTH = 400;

/** One validation problem. */
export interface Problem {
  readonly code: ErrorCode;
  readonly message: string;
  readonly path?: string;
}

export interface SimError {
  readonly status: 400 | 422 | 503;
  readonly code: ErrorCode;
  readonly message: string;
  readonly path?: string;
  /** OKX's sCode for a rule OKX enforces (e.g. "51202"). */
  readonly okxCode?: string;
  /** Every problem found when there are several (the first is repeated in code/message/path). */
  readonly problems?: readonly Problem[];
}

export type SimulateOutcome =
  | { readonly ok: true; readonly response: SimulateResponse }
  | { readonly ok: false; readonly error: SimError };

/** A price limit in force for the order (OKX GET /api/v5/public/price-limit), already parsed. */
export interface PriceLimit {
  readonly buyLmt: number | null;
  readonly sellLmt: number | null;
  readonly source: "request" | "okx_rest";
}

export interface SimulateInput {
  /** The request, already validated by `SimulateRequestSchema`. */
  readonly request: SimulateRequest;
  readonly instrument: InstrumentSpec;
  readonly instrumentSource: "request" | "okx_rest" | "cache";
  /** Required when `request.orderbook` is absent. */
  readonly liveBook?: LiveBook | undefined;
  /** The relay's recent book history (live-book path), for the empirical latency cost. */
  readonly history?: BookHistorySnapshot | undefined;
  /** Why there is no history, when there is none (said in the response). */
  readonly historyMissing?: string | undefined;
  /** Price limit in force, when known. */
  readonly priceLimit?: PriceLimit | undefined;
  /** A note about the price limit (e.g. why it could not be fetched). */
  readonly priceLimitNote?: string | undefined;
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

/** A decimal string or a JSON number (NaN for anything else). */
function toNumber(v: unknown): number {
  if (typeof v === "number") return v;
  return typeof v === "string" ? parseDecimal(v) : NaN;
}

function fail(
  status: SimError["status"],
  code: ErrorCode,
  message: string,
  path?: string,
): { ok: false; error: SimError } {
  return { ok: false, error: path === undefined ? { status, code, message } : { status, code, message, path } };
}

function reject(r: RuleReject): { ok: false; error: SimError } {
  return { ok: false, error: { status: 422, code: r.code, message: r.message, path: r.path, okxCode: r.okxCode } };
}

/** Most problems listed for one book (a garbage book would otherwise produce a megabyte of errors). */
const MAX_BOOK_PROBLEMS = 20;

/**
 * Every problem of a request book side (the slow path, run only once `parseBookSide` found the first): the same
 * checks, continuing past each problem, at most MAX_BOOK_PROBLEMS.
 */
function bookSideProblems(raw: readonly unknown[], name: "bids" | "asks"): Problem[] {
  const out: Problem[] = [];
  const desc = name === "bids";
  let prev = NaN;
  for (let i = 0; i < raw.length && out.length < MAX_BOOK_PROBLEMS; i++) {
    const r = parseBookSide([raw[i]], name);
    if (!Array.isArray(r)) {
      out.push({ code: r.code, message: r.message, path: r.path!.replace(`${name}[0]`, `${name}[${i}]`) });
      continue;
    }
    const price = r[0]!.price;
    if (prev === price)
      out.push({
        code: "duplicate_price",
        message: `price ${price} appears twice in ${name}; merge the levels`,
        path: `orderbook.${name}[${i}][0]`,
      });
    else if (desc ? price > prev : price < prev) {
      out.push({
        code: "unsorted_book",
        message: `${name} must be sorted best first (${desc ? "descending" : "ascending"} price): ${name}[${i}] ${price} comes after ${prev}`,
        path: `orderbook.${name}[${i}][0]`,
      });
    }
    prev = price;
  }
  return out;
}

/**
 * Parse and validate one side of a request book: every price and size a finite positive number, prices strictly
 * monotone best-first (bids descending, asks ascending), no duplicate prices. Nothing is sorted or dropped
 * silently: a book that is not what OKX would send is rejected with the path of the first bad value.
 *
 * Every level is validated, but only the best `keep` are returned: the side an order does not consume needs just
 * its best level, and not allocating the other ~400 level objects is a tenth of the engine's time.
 *
 * Performance (measured, bench/simulate.ts "floor" rows): almost all of the time is reading the characters of the
 * 2 x 400 decimal strings once, which no validation of every level can avoid. The loop below is the happy path
 * with one combined test per level; the first level that fails it is explained by `levelError` (shape, then
 * price, size, duplicate, order, exactly as the checks have always been ordered).
 */
export function parseBookSide(
  raw: readonly unknown[],
  name: "bids" | "asks",
  keep = raw.length,
): PriceLevel[] | (SimError & { path: string }) {
  const n = raw.length;
  const out = new Array<PriceLevel>(Math.min(keep, n));
  // `prev` starts beyond any valid first price, so one comparison checks the order and (for asks) positivity.
  let prev = name === "bids" ? Infinity : 0;
  if (name === "bids") {
    for (let i = 0; i < n; i++) {
      const l = raw[i];
      if (!Array.isArray(l) || l.length < 2 || l.length > 8) return levelError(raw, i, name);
      const a: unknown = l[0];
      const b: unknown = l[1];
      const price = typeof a === "string" ? parseDecimal(a) : typeof a === "number" ? a : NaN;
      const size = typeof b === "string" ? parseDecimal(b) : typeof b === "number" ? b : NaN;
      // price < prev: finite and below the previous bid; size < Infinity also rejects NaN.
      if (!(price < prev) || !(price > 0) || !(size > 0) || !(size < Infinity)) return levelError(raw, i, name);
      if (i < keep) out[i] = { price, size };
      prev = price;
    }
  } else {
    for (let i = 0; i < n; i++) {
      const l = raw[i];
      if (!Array.isArray(l) || l.length < 2 || l.length > 8) return levelError(raw, i, name);
      const a: unknown = l[0];
      const b: unknown = l[1];
      const price = typeof a === "string" ? parseDecimal(a) : typeof a === "number" ? a : NaN;
      const size = typeof b === "string" ? parseDecimal(b) : typeof b === "number" ? b : NaN;
      // price > prev (>= 0): positive and above the previous ask; price < Infinity: finite.
      if (!(price > prev) || !(price < Infinity) || !(size > 0) || !(size < Infinity)) return levelError(raw, i, name);
      if (i < keep) out[i] = { price, size };
      prev = price;
    }
  }
  return out;
}

/**
 * Why level `i` of a side failed `parseBookSide`'s combined test (every level before it passed): the first of
 * shape, price, size, duplicate, order, with the message and path the API has always given.
 */
function levelError(raw: readonly unknown[], i: number, name: "bids" | "asks"): SimError & { path: string } {
  const l = raw[i];
  if (!Array.isArray(l) || l.length < 2 || l.length > 8) {
    return {
      status: 400,
      code: "invalid_level",
      message: `a level is [price, size, ...] with 2 to 8 elements (OKX format), got ${JSON.stringify(l)?.slice(0, 60)}`,
      path: `orderbook.${name}[${i}]`,
    };
  }
  const price = toNumber(l[0]);
  const size = toNumber(l[1]);
  if (!(price > 0) || !Number.isFinite(price)) {
    return {
      status: 400,
      code: "invalid_price",
      message: `price must be a finite decimal > 0 (string or number), got ${JSON.stringify(l[0]) ?? "undefined"}`,
      path: `orderbook.${name}[${i}][0]`,
    };
  }
  if (!(size > 0) || !Number.isFinite(size)) {
    return {
      status: 400,
      code: "invalid_size",
      message: `size must be a finite decimal > 0 (book units: contracts for derivatives, base for spot), got ${JSON.stringify(l[1]) ?? "undefined"}`,
      path: `orderbook.${name}[${i}][1]`,
    };
  }
  const prev = toNumber((raw[i - 1] as unknown[])[0]);
  if (price === prev)
    return {
      status: 400,
      code: "duplicate_price",
      message: `price ${String(l[0])} appears twice in ${name}; merge the levels`,
      path: `orderbook.${name}[${i}][0]`,
    };
  const desc = name === "bids";
  return {
    status: 400,
    code: "unsorted_book",
    message: `${name} must be sorted best first (${desc ? "descending" : "ascending"} price): ${name}[${i}] ${String(l[0])} comes after ${prev}`,
    path: `orderbook.${name}[${i}][0]`,
  };
}

/** Same checks for an already-numeric side (the live book); no allocation. Returns a reason or null. */
export function checkNumericSide(side: readonly PriceLevel[], desc: boolean): string | null {
  let prev = NaN;
  for (let i = 0; i < side.length; i++) {
    const { price, size } = side[i]!;
    if (!(price > 0) || !Number.isFinite(price) || !(size > 0) || !Number.isFinite(size))
      return `level ${i} is not positive and finite`;
    if (i > 0 && (price === prev || (desc ? price > prev : price < prev))) return `level ${i} is out of order`;
    prev = price;
  }
  return null;
}

const UNIT_OF: Record<"size" | "contracts" | "notional", OrderUnit> = {
  size: "base",
  contracts: "contracts",
  notional: "quote",
};

function onTick(p: number, tick: number): boolean {
  const r = p / tick;
  return Math.abs(r - Math.round(r)) <= 1e-6 + 1e-9 * Math.abs(r);
}

const SQRT_FORMULA =
  "impact/mid = Y * sigmaDaily * sqrt(filledBase / adv24hBase), sigmaDaily = sigmaPerSecond * sqrt(86400)";
const SQRT_NOTE =
  "Square-root law of metaorder impact (Almgren et al. 2005; Toth et al. 2011): a pre-trade yardstick of how large the order is relative to typical liquidity. It is NOT added to netCost: the fill's realised impact is the walk-the-book figure.";
const AC_REASON =
  "Almgren-Chriss optimises a schedule over a horizon T; its temporary impact depends on the trading rate. A market order executes at once (T -> 0), so there is no schedule and no temporary-impact term to evaluate; its temporary impact is the walk-the-book figure.";
const CLOCK = "24/7 market: 86,400 s/day, 365 days = 31,536,000 s/year (not 252 trading days)";
const NET_FORMULA =
  "netCost = halfSpread + bookImpact + fee = slippage.vsMidQuote + fee.amountQuote (model estimate and latency risk excluded: they would double count)";
const STALE_BOOK_MS = 5_000;
/**
 * Cloudflare Workers freeze performance.now() during synchronous execution (Spectre mitigation); a reading there
 * would be 0 or a clock-granularity artefact, so the response says null instead of printing a fake number.
 */
const FROZEN_CLOCK =
  (globalThis as { navigator?: { userAgent?: string } }).navigator?.userAgent === "Cloudflare-Workers";

const LATENCY_NOTE =
  "Empirical: at each stored past book (decision point) the same order is filled at once and against the book as it stood latencyMs later; the difference of the two costs (bps of the decision mid, positive = worse) is summarised. An estimate from this instrument's recent stream, not a forecast; it does not model others reacting to your order, nor depth below the stored top levels.";

/** What the route needs to know about the order's size. */
interface SizeKey {
  readonly key: "size" | "contracts" | "notional";
  readonly unit: OrderUnit;
  readonly amount: number;
}

function sizeOf(req: SimulateRequest): SizeKey {
  const key = req.size !== undefined ? "size" : req.contracts !== undefined ? "contracts" : "notional";
  return { key, unit: UNIT_OF[key], amount: (req.size ?? req.contracts ?? req.notional)! };
}

/**
 * Simulate a market, ioc or fok order under OKX's rules (src/sim/rules.ts). `input.request` must already satisfy
 * SimulateRequestSchema. Units: prices quote per base; *Base in base currency; *Quote in quote currency;
 * *BookUnits in contracts (derivatives) or base (spot); bps relative to the stated reference.
 */
export function simulateTrade(input: SimulateInput): SimulateOutcome {
  const t0 = performance.now();
  const { request: req, instrument: inst } = input;
  const warnings: string[] = [];
  const warn = (w: string) => warnings.push(w);

  const schedule = feeScheduleFor(inst.instType);
  const instType = inst.instType;
  if (schedule === null || instType === "OPTION") {
    return fail(
      422,
      "unsupported_instrument",
      `${inst.instType} instruments are not simulated (option premiums and their fee cap need their own model); use SPOT, MARGIN, SWAP or FUTURES`,
      "instId",
    );
  }
  const state = checkState(req.instId, inst.state);
  if (state !== null) return reject(state);
  const spot = isSpotLike(inst.instType);
  const ordType = req.ordType ?? "market";
  const side = req.side;
  const { key, unit, amount } = sizeOf(req);
  if (unit === "contracts" && spot) {
    return fail(
      400,
      "unit_not_applicable",
      "contracts apply to derivatives only; give a spot order as size (base) or notional (quote)",
      "contracts",
    );
  }
  // OKX's own sz (contracts; spot base with tgtCcy=base_ccy) must be whole lots; converted sizes are rounded down.
  if (unit === "contracts" || (spot && unit === "base")) {
    const lot = checkLotMultiple(amount, inst.lotSz, key, spot ? inst.baseCcy || "base" : "contracts");
    if (lot !== null) return reject(lot);
  }
  let px: number | null = null;
  if (req.px !== undefined) {
    px = toNumber(req.px);
    if (!(px > 0) || !Number.isFinite(px))
      return fail(400, "invalid_price", `px must be a finite decimal > 0, got ${JSON.stringify(req.px)}`, "px");
  }
  const limit = input.priceLimit;
  const buyLmt = limit?.buyLmt ?? null;
  const sellLmt = limit?.sellLmt ?? null;
  if (px !== null) {
    const r = checkPxWithinLimit(side, px, buyLmt, sellLmt);
    if (r !== null) return reject(r);
  }

  // --- Book -------------------------------------------------------------------------------------------------
  // A request book's side the order does not consume keeps only its best level (all of it is validated): the
  // engine needs its top for the mid, its count for the response.
  let bids: readonly PriceLevel[];
  let asks: readonly PriceLevel[];
  let bidLevels: number;
  let askLevels: number;
  let bookTs: number | null = null;
  let bookSource: "request" | "live";
  let depthTruncated: boolean | null;
  let checksumValid: boolean | null = null;
  const ob = req.orderbook;
  if (ob !== undefined) {
    const { bids: rawBids, asks: rawAsks } = ob;
    const b = parseBookSide(rawBids, "bids", side === "sell" ? rawBids.length : 1);
    const a = parseBookSide(rawAsks, "asks", side === "buy" ? rawAsks.length : 1);
    if (!Array.isArray(b) || !Array.isArray(a)) {
      const problems = [
        ...(Array.isArray(b) ? [] : bookSideProblems(rawBids, "bids")),
        ...(Array.isArray(a) ? [] : bookSideProblems(rawAsks, "asks")),
      ];
      const first = (Array.isArray(b) ? a : b) as SimError;
      return { ok: false, error: problems.length > 1 ? { ...first, problems } : first };
    }
    bids = b;
    asks = a;
    bidLevels = rawBids.length;
    askLevels = rawAsks.length;
    bookSource = "request";
    depthTruncated = null;
    if (ob.instId !== undefined && ob.instId !== req.instId)
      return fail(
        400,
        "instrument_mismatch",
        `orderbook.instId ${ob.instId} is not the request's instId ${req.instId}`,
        "orderbook.instId",
      );
    if (ob.ts !== undefined) {
      bookTs = Number(ob.ts);
      if (bookTs < 1e12)
        return fail(
          400,
          "invalid_ts",
          `orderbook.ts must be Unix MILLISECONDS (got ${bookTs}, which looks like seconds)`,
          "orderbook.ts",
        );
      // Unix ms has 13 digits until the year 2286; 16 digits is microseconds (OKX's inTime/outTime), 19 nanoseconds.
      if (bookTs >= 1e14)
        return fail(
          400,
          "invalid_ts",
          `orderbook.ts must be Unix MILLISECONDS (got ${String(ob.ts)}, which looks like micro- or nanoseconds)`,
          "orderbook.ts",
        );
    }
    if (ob.checksum !== undefined) {
      // OKX's CRC32 over the top 25 levels' original strings; numbers are printed back as JSON would.
      const pxsz = (ls: readonly unknown[]) =>
        ls.slice(0, 25).map((l) => ({ px: String((l as unknown[])[0]), sz: String((l as unknown[])[1]) }));
      checksumValid = okxChecksum(pxsz(rawBids), pxsz(rawAsks)) === ob.checksum;
      if (!checksumValid)
        warn(
          "orderbook.checksum does not match the levels sent: the book is not the one OKX checksummed (a cut, edited or merged book)",
        );
    }
  } else {
    const live = input.liveBook;
    if (live === undefined)
      return fail(
        503,
        "live_book_unavailable",
        `no live book for ${req.instId}; send the book in "orderbook"`,
        "orderbook",
      );
    const bad = checkNumericSide(live.bids, true) ?? checkNumericSide(live.asks, false);
    if (bad !== null)
      return fail(
        503,
        "live_book_unavailable",
        `the live book for ${req.instId} is inconsistent (${bad}); retry, or send the book in "orderbook"`,
        "orderbook",
      );
    bids = live.bids;
    asks = live.asks;
    bidLevels = bids.length;
    askLevels = asks.length;
    bookSource = "live";
    depthTruncated = (side === "buy" ? askLevels : bidLevels) >= LIVE_BOOK_DEPTH;
    bookTs = live.ts > 0 ? live.ts : null;
    warn("orderbook omitted: simulated against the relay's live book for this instrument");
  }
  if (bids.length === 0 || asks.length === 0) {
    const which = bids.length === 0 ? "bids" : "asks";
    return fail(
      422,
      "empty_book_side",
      `orderbook.${which} is empty: a fill needs the side it consumes and the mid needs both`,
      `orderbook.${which}`,
    );
  }
  const bestBid = bids[0]!.price;
  const bestAsk = asks[0]!.price;
  if (bestBid >= bestAsk) {
    return fail(
      400,
      "crossed_book",
      `crossed book: best bid ${bestBid} >= best ask ${bestAsk}; send a consistent snapshot`,
      "orderbook",
    );
  }
  const mid = (bestBid + bestAsk) / 2;
  if (!onTick(bestBid, inst.tickSz) || !onTick(bestAsk, inst.tickSz)) {
    warn(
      `best prices are not multiples of tickSz ${inst.tickSz}: check that the book and the instrument spec belong together`,
    );
  }
  if (!onTick(bids[0]!.size, inst.lotSz) || !onTick(asks[0]!.size, inst.lotSz)) {
    warn(
      `best-level sizes are not multiples of lotSz ${inst.lotSz}: check the instrument spec (book sizes must be ${spot ? "base currency" : "contracts"})`,
    );
  }
  const bookAgeMs = bookTs === null ? null : input.nowMs - bookTs;
  if (bookAgeMs !== null && bookAgeMs > STALE_BOOK_MS)
    warn(`book is ${Math.round(bookAgeMs)} ms old: prices may have moved`);
  if (bookAgeMs !== null && bookAgeMs < -STALE_BOOK_MS)
    warn(`book ts is ${Math.round(-bookAgeMs)} ms in the future: clocks disagree`);

  // --- Fill --------------------------------------------------------------------------------------------------
  const levels = side === "buy" ? asks : bids;
  // The price bound of the walk: OKX's price limit for a market order, px for ioc/fok (already inside the limit).
  const marketBound = side === "buy" ? buyLmt : sellLmt;
  const bound = px ?? marketBound;
  const usable = usableLevels(levels, side, bound);
  // OKX does not lot-round a spot market order sized in quote (tgtCcy=quote_ccy).
  const quoteCcyOrder = spot && ordType === "market" && unit === "quote";
  const fillOpts = { usableLevels: usable, noLotRounding: quoteCcyOrder };
  const fill = fillMarketOrder(levels, inst, unit, amount, fillOpts);
  if (!fill.ok) {
    if (fill.code === "no_fill") {
      const why =
        px !== null
          ? `no ${side === "buy" ? "ask at or below" : "bid at or above"} px ${px}`
          : `the best ${side === "buy" ? "ask is above OKX's buyLmt" : "bid is below OKX's sellLmt"} ${marketBound}`;
      return fail(
        422,
        "no_fill",
        `nothing would fill: ${why}; OKX would cancel the ${ordType} order without a fill`,
        px !== null ? "px" : "priceLimit",
      );
    }
    const bookUnit = spot ? inst.baseCcy || "base currency" : "contracts";
    const err = fail(422, fill.code, fill.message.replace(/book units/g, bookUnit), key);
    return fill.code === "below_min_size" ? { ok: false, error: { ...err.error, okxCode: "51020" } } : err;
  }
  if (ordType === "market") {
    const caps = checkMarketCaps(
      {
        spec: inst,
        orderBookUnits: fill.orderBookUnits,
        orderQuote: quoteCcyOrder ? amount : fill.orderBookUnits * (spot ? 1 : inst.ctVal * inst.ctMult) * mid,
        path: key,
      },
      warn,
    );
    if (caps !== null) return reject(caps);
  }
  if (ordType === "fok" && !fill.fullyFilled) {
    return fail(
      422,
      "no_fill",
      `fok: only ${fill.filledBookUnits} of ${fill.orderBookUnits} ${spot ? "base" : "contracts"} are available at px ${px} or better; OKX cancels a fill-or-kill order that cannot fill entirely`,
      "px",
    );
  }
  const endReason: SimulateResponse["fill"]["endReason"] = fill.fullyFilled
    ? "filled"
    : fill.stoppedAtLimit
      ? px !== null
        ? "limit_price"
        : "price_limit"
      : "book_exhausted";
  if (fill.lotRoundingApplied)
    warn(
      `size rounded down to lotSz ${inst.lotSz}: ${fill.lotRoundedOffBookUnits} ${spot ? "base" : "contracts"} not simulated`,
    );
  if (endReason === "book_exhausted") {
    const cut =
      depthTruncated === true
        ? `the live book is cut at ${LIVE_BOOK_DEPTH} levels, so deeper liquidity may exist`
        : depthTruncated === null
          ? "a request book may be a cut of a deeper book"
          : "that is all the liquidity OKX sent";
    warn(`book too thin: ${fill.unfilledAmount} ${unit} cancelled after ${fill.levelsConsumed} levels (${cut})`);
  }
  if (endReason === "price_limit")
    warn(`OKX's price limit ${marketBound} stopped the market order: ${fill.unfilledAmount} ${unit} cancelled`);
  if (endReason === "limit_price") warn(`ioc at px ${px}: ${fill.unfilledAmount} ${unit} cancelled`);

  // --- Costs -------------------------------------------------------------------------------------------------
  const s = costSign(side);
  const kind = spot ? "spot" : inst.ctType;
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
    if (req.feeTier === undefined) warn("feeTier not given: assumed Lv1 (OKX's base tier)");
    if (!verified)
      warn(
        `fee table row ${schedule}/${tier} is an unverified reconstruction; send takerFeeRate if you know your rate`,
      );
    // USDC pairs and USDC-margined contracts have their own OKX schedule, which the table does not hold.
    if (verified && (inst.quoteCcy === "USDC" || inst.settleCcy === "USDC")) {
      verified = false;
      warn(
        "USDC-quoted/settled instruments have their own OKX fee schedule, not in the table: the USDT row was used; send takerFeeRate if you know your rate",
      );
    }
  }
  const fee = takerFee(rate, side, kind, filledBase, filledQuote, inst);

  const netQuote = vsMidQuote + fee.amountQuote;
  let netSettle: number | null = null;
  if (kind === "inverse") netSettle = vsMidQuote / mid + fee.amount;
  else if (kind === "linear") netSettle = netQuote;

  // --- Per-level breakdown ---------------------------------------------------------------------------------
  let fills: SimulateResponse["fills"] = null;
  if (req.includeFills === true) fills = breakdown(levels, fill, inst, rate, side, spot);

  // --- Curve and reverse query -----------------------------------------------------------------------------
  let curve: SimulateResponse["costCurve"] = null;
  let maxSize: SimulateResponse["maxSize"] = null;
  if (req.sizes !== undefined || req.maxSlippageBps !== undefined) {
    const prof = depthProfile(levels, inst, usable);
    const summary = (p: CurvePoint | CurveReject) => summarise(p, mid, s, rate);
    if (req.sizes !== undefined) {
      curve = costCurve(prof, inst, unit, req.sizes, quoteCcyOrder).map((p) => ({
        requestedInRequestedUnit: p.amount,
        ...summary(p),
      }));
    }
    if (req.maxSlippageBps !== undefined) {
      const q = largestWithinSlippage(prof, inst, side, mid, req.maxSlippageBps);
      const f = fillBookUnits(prof, q, inst.lotSz);
      const k = spot ? 1 : inst.ctVal * inst.ctMult;
      const inReq =
        unit === "contracts"
          ? q
          : unit === "base"
            ? kind === "inverse"
              ? f.filledBase
              : q * k
            : kind === "inverse"
              ? q * k
              : f.filledQuote;
      maxSize = {
        maxSlippageBps: req.maxSlippageBps,
        largestInRequestedUnit: q === 0 ? 0 : inReq,
        largestBookUnits: q,
        ...summary(
          q === 0
            ? { ok: false, amount: 0, code: "below_lot_size" }
            : { ok: true, amount: inReq, orderBookUnits: q, ...f },
        ),
      };
    }
  }

  // --- Impact ------------------------------------------------------------------------------------------------
  const walk = walkTheBookImpact(side, avgPrice, bestPrice, worstPrice, filledBase);
  const sigS = req.volatility === undefined ? undefined : sigmaPerSecond(req.volatility.value, req.volatility.unit);
  const est = sqrtLawEstimate({
    sigmaPerSecond: sigS,
    adv24hBase: req.adv24hBase,
    qtyBase: filledBase,
    refPrice: mid,
    y: req.sqrtImpactY,
  });
  let latency: SimulateResponse["marketImpact"]["latency"] = null;
  if (req.latencyMs !== undefined) {
    let sigmaSqrtT: NonNullable<SimulateResponse["marketImpact"]["latency"]>["sigmaSqrtT"];
    if (sigS === undefined) {
      sigmaSqrtT = {
        available: false,
        reason: "needs volatility (the sigma-sqrt(t) risk scales a volatility; none was given and none is assumed)",
        oneSigmaBps: null,
        oneSigmaQuote: null,
      };
    } else {
      const r = latencyRisk(sigS, req.latencyMs, filledBase * mid);
      sigmaSqrtT = { available: true, reason: null, oneSigmaBps: r.oneSigmaBps, oneSigmaQuote: r.oneSigmaQuote };
    }
    latency = {
      latencyMs: req.latencyMs,
      sigmaSqrtT,
      empirical: empirical(input, req.latencyMs, { side, spec: inst, unit, amount }),
    };
  }

  const response: SimulateResponse = {
    instId: req.instId,
    side,
    ordType,
    status: fill.fullyFilled ? "filled" : "partially_filled",
    takerShare: 1,
    order: {
      requestedInRequestedUnit: amount,
      requestedUnit: unit,
      bookUnit: spot ? "base" : "contracts",
      tgtCcy: spot && ordType === "market" ? (unit === "quote" ? "quote_ccy" : "base_ccy") : null,
      px,
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
      endReason,
      unfilledInRequestedUnit: fill.unfilledAmount,
      unfilledBookUnits: fill.unfilledBookUnits,
    },
    fills,
    slippage: {
      vsMidBps: (s * (avgPrice - mid) * 1e4) / mid,
      vsMidQuote,
      vsBestBps: walk.avgVsBestBps,
      vsBestQuote,
    },
    fee: {
      schedule,
      tier,
      rateSource,
      rate,
      amountInFeeCcy: fee.amount,
      currency: fee.currency,
      amountQuote: fee.amountQuote,
      verified,
      tableSource: FEE_TABLE_SOURCE,
    },
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
      inSettleCcy: netSettle,
      settleCcy: kind === "spot" ? null : inst.settleCcy || null,
      components: { halfSpreadQuote, bookImpactQuote: vsBestQuote, feeQuote: fee.amountQuote },
      formula: NET_FORMULA,
    },
    currencies: { base: inst.baseCcy, quote: inst.quoteCcy, settle: inst.settleCcy || null, fee: fee.currency },
    instrument: {
      instType,
      ctType: inst.ctType,
      ctVal: inst.ctVal,
      ctMult: inst.ctMult,
      ctValCcy: inst.ctValCcy,
      tickSz: inst.tickSz,
      lotSz: inst.lotSz,
      minSz: inst.minSz,
      maxMktSz: inst.maxMktSz ?? null,
      maxMktAmt: inst.maxMktAmt ?? null,
      state: inst.state ?? null,
      source: input.instrumentSource,
    },
    priceLimit: { buyLmt, sellLmt, source: limit?.source ?? "none", note: input.priceLimitNote ?? null },
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
      depthTruncated,
      seqId: ob?.seqId ?? null,
      prevSeqId: ob?.prevSeqId ?? null,
      checksum: ob?.checksum ?? null,
      checksumValid,
    },
    costCurve: curve,
    maxSize,
    engineTimeUs: 0,
    warnings,
  };
  // Values near the double range (a size or ctVal of 1e308) overflow to Infinity, which JSON would print as null:
  // refuse instead of answering with a silently broken number.
  if (!allFinite(response)) {
    return fail(
      422,
      "out_of_range",
      "the figures of this order overflow double precision (sizes, prices or contract values near 1e308); send realistic values",
    );
  }
  response.engineTimeUs = FROZEN_CLOCK ? null : (performance.now() - t0) * 1000;
  return { ok: true, response };
}

/** True when no number in `v` (recursively) is NaN or infinite. */
function allFinite(v: unknown): boolean {
  if (typeof v === "number") return Number.isFinite(v);
  if (Array.isArray(v)) return v.every(allFinite);
  if (typeof v === "object" && v !== null) {
    for (const k in v) if (!allFinite((v as Record<string, unknown>)[k])) return false;
  }
  return true;
}

/** Per-level breakdown of a fill: levels before the last were taken whole. */
function breakdown(
  levels: readonly PriceLevel[],
  fill: FillResult,
  inst: InstrumentSpec,
  rate: number,
  side: "buy" | "sell",
  spot: boolean,
): NonNullable<SimulateResponse["fills"]> {
  const k = spot ? 1 : inst.ctVal * inst.ctMult;
  const inverse = !spot && inst.ctType === "inverse";
  const out: NonNullable<SimulateResponse["fills"]> = [];
  for (let i = 0; i < fill.levelsConsumed; i++) {
    const l = levels[i]!;
    // The last level's take is a difference of decimals: drop its binary noise (163.79999999999995 -> 163.8).
    const size = i === fill.levelsConsumed - 1 ? +fill.lastLevelBookUnits.toPrecision(15) : l.size;
    const base = inverse ? (size * k) / l.price : size * k;
    const quote = inverse ? size * k : size * k * l.price;
    // Fee currency as in takerFee: spot buy in the coin, spot sell in quote, linear in settle (quote), inverse in the coin.
    const feeInFeeCcy = rate * (spot ? (side === "buy" ? base : quote) : inverse ? base : quote);
    out.push({ price: l.price, sizeBookUnits: size, base, quote, feeInFeeCcy });
  }
  return out;
}

/** A curve point with its costs. */
function summarise(p: CurvePoint | CurveReject, mid: number, s: 1 | -1, rate: number) {
  if (!p.ok)
    return {
      filledBase: 0,
      filledQuote: 0,
      filledBookUnits: 0,
      avgPrice: null,
      vsMidBps: null,
      feeQuote: 0,
      netCostBps: null,
      fullyFilled: false,
      levelsConsumed: 0,
    };
  const feeQuote = rate * p.filledQuote;
  const vsMid = p.avgPrice === null ? null : (s * (p.avgPrice - mid) * 1e4) / mid;
  const net =
    p.avgPrice === null ? null : ((s * (p.avgPrice - mid) * p.filledBase + feeQuote) * 1e4) / (p.filledBase * mid);
  return {
    filledBase: p.filledBase,
    filledQuote: p.filledQuote,
    filledBookUnits: p.filledBookUnits,
    avgPrice: p.avgPrice,
    vsMidBps: vsMid,
    feeQuote,
    netCostBps: net,
    fullyFilled: p.fullyFilled,
    levelsConsumed: p.levelsConsumed,
  };
}

/** The empirical latency cost from the relay's history (live-book path only). */
function empirical(
  input: SimulateInput,
  latencyMs: number,
  order: Parameters<typeof latencyCostDistribution>[1],
): NonNullable<SimulateResponse["marketImpact"]["latency"]>["empirical"] {
  const none = (reason: string) => ({
    available: false,
    reason,
    decisions: 0,
    skipped: 0,
    windowMs: null,
    meanBps: null,
    p50Bps: null,
    p95Bps: null,
    note: LATENCY_NOTE,
  });
  if (input.request.orderbook !== undefined)
    return none("needs the relay's recent book history: omit orderbook to simulate on the live book");
  if (input.history === undefined)
    return none(input.historyMissing ?? "the relay provides no book history for this instrument");
  const d = latencyCostDistribution(input.history, order, latencyMs);
  if (!d.available) return { ...none(d.reason), decisions: d.decisions, skipped: d.skipped };
  return {
    available: true,
    reason: null,
    decisions: d.decisions,
    skipped: d.skipped,
    windowMs: d.windowMs,
    meanBps: d.meanBps,
    p50Bps: d.p50Bps,
    p95Bps: d.p95Bps,
    note: LATENCY_NOTE,
  };
}
