import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { applyBook, createBook, type Book } from "../src/okx/book.js";
import { parseOkxMessage } from "../src/okx/protocol.js";
import {
  decimalsOf,
  fillMarketOrder,
  floorToLot,
  type FillResult,
  type FillSpec,
  type OrderUnit,
  type PriceLevel,
} from "../src/sim/fill.js";
import { DATA, receivedMessages } from "../tools/lib/captures.js";

const L = (price: number, size: number): PriceLevel => ({ price, size });

const SPOT: FillSpec = { instType: "SPOT", ctType: "linear", ctVal: 1, ctMult: 1, lotSz: 0.00000001, minSz: 0.00001 };
/** BTC-USDT-SWAP as OKX listed it on 2022-05-13: 0.01 BTC per contract, whole contracts. */
const LINEAR: FillSpec = { instType: "SWAP", ctType: "linear", ctVal: 0.01, ctMult: 1, lotSz: 1, minSz: 1 };
/** BTC-USD-SWAP: 100 USD per contract, settled in BTC. */
const INVERSE: FillSpec = { instType: "SWAP", ctType: "inverse", ctVal: 100, ctMult: 1, lotSz: 1, minSz: 1 };

// Spot book (sizes in BTC) and a derivatives book (sizes in contracts).
const SPOT_ASKS = [L(100, 2), L(101, 3), L(103, 5)];
const SPOT_BIDS = [L(99, 1), L(98, 4), L(95, 10)];
const D_ASKS = [L(30000, 100), L(30010, 200), L(30050, 500)];
const D_BIDS = [L(29990, 150), L(29980, 300), L(29900, 1000)];

function ok(r: ReturnType<typeof fillMarketOrder>): FillResult {
  if (!r.ok) throw new Error(`expected a fill, got ${r.code}: ${r.message}`);
  return r;
}

interface Case {
  name: string;
  levels: PriceLevel[];
  spec: FillSpec;
  unit: OrderUnit;
  amount: number;
  expect: Partial<FillResult>;
}

// Every expectation below is worked out by hand in the comment next to it.
const CASES: Case[] = [
  {
    // 2 @ 100 + 2 @ 101 = 200 + 202 = 402 USDT for 4 BTC -> VWAP 100.5
    name: "spot buy 4 BTC (size in base)",
    levels: SPOT_ASKS,
    spec: SPOT,
    unit: "base",
    amount: 4,
    expect: {
      filledBase: 4,
      filledBookUnits: 4,
      filledQuote: 402,
      avgPrice: 100.5,
      bestPrice: 100,
      worstPrice: 101,
      levelsConsumed: 2,
      fullyFilled: true,
      lotRoundingApplied: false,
    },
  },
  {
    // 1 @ 99 + 2 @ 98 = 99 + 196 = 295 for 3 BTC -> 98.3333...
    name: "spot sell 3 BTC",
    levels: SPOT_BIDS,
    spec: SPOT,
    unit: "base",
    amount: 3,
    expect: {
      filledBase: 3,
      filledQuote: 295,
      avgPrice: 295 / 3,
      bestPrice: 99,
      worstPrice: 98,
      levelsConsumed: 2,
      fullyFilled: true,
    },
  },
  {
    // 402 USDT: 200 buys level 1 (2 BTC), the remaining 202 buys 202/101 = 2 BTC of level 2.
    name: "spot buy 402 USDT notional (exact level boundary)",
    levels: SPOT_ASKS,
    spec: SPOT,
    unit: "quote",
    amount: 402,
    expect: {
      filledBase: 4,
      filledQuote: 402,
      avgPrice: 100.5,
      levelsConsumed: 2,
      fullyFilled: true,
      lotRoundingApplied: false,
    },
  },
  {
    // 100 contracts @ 30000 + 150 @ 30010; base = 250 * 0.01 = 2.5 BTC;
    // quote = 100*0.01*30000 + 150*0.01*30010 = 30000 + 45015 = 75015 USDT; VWAP = 75015 / 2.5 = 30006.
    name: "linear swap buy 250 contracts (ctVal 0.01 BTC)",
    levels: D_ASKS,
    spec: LINEAR,
    unit: "contracts",
    amount: 250,
    expect: {
      filledBookUnits: 250,
      filledBase: 2.5,
      filledQuote: 75015,
      avgPrice: 30006,
      bestPrice: 30000,
      worstPrice: 30010,
      levelsConsumed: 2,
      fullyFilled: true,
    },
  },
  {
    // 2.5 BTC / 0.01 BTC per contract = 250 contracts: same fill as above. (A contracts-as-coins bug would buy 2.5 contracts.)
    name: "linear swap buy 2.5 BTC (size in base -> 250 contracts)",
    levels: D_ASKS,
    spec: LINEAR,
    unit: "base",
    amount: 2.5,
    expect: {
      targetBookUnits: 250,
      filledBookUnits: 250,
      filledBase: 2.5,
      filledQuote: 75015,
      avgPrice: 30006,
      levelsConsumed: 2,
    },
  },
  {
    // 75015 USDT: level 1 is worth 30000, the remaining 45015 / (0.01*30010 = 300.1 per contract) = 150 contracts.
    name: "linear swap buy 75015 USDT notional",
    levels: D_ASKS,
    spec: LINEAR,
    unit: "quote",
    amount: 75015,
    expect: {
      orderBookUnits: 250,
      filledBookUnits: 250,
      filledBase: 2.5,
      filledQuote: 75015,
      lotRoundingApplied: false,
    },
  },
  {
    // 150 @ 29990 + 250 @ 29980: quote = 1.5*29990 + 2.5*29980 = 44985 + 74950 = 119935; base 4; VWAP 29983.75
    name: "linear swap sell 400 contracts",
    levels: D_BIDS,
    spec: LINEAR,
    unit: "contracts",
    amount: 400,
    expect: { filledBase: 4, filledQuote: 119935, avgPrice: 29983.75, worstPrice: 29980, levelsConsumed: 2 },
  },
  {
    // ctVal 10, ctMult 0.1 -> 1 coin per contract: 3 contracts = 2 @ 100 + 1 @ 101 = 301
    name: "linear contract with ctMult 0.1 (one contract = ctVal*ctMult)",
    levels: SPOT_ASKS,
    spec: { instType: "FUTURES", ctType: "linear", ctVal: 10, ctMult: 0.1, lotSz: 1, minSz: 1 },
    unit: "contracts",
    amount: 3,
    expect: { filledBase: 3, filledQuote: 301, levelsConsumed: 2 },
  },
  {
    // Inverse: 250 contracts * 100 USD = 25000 USD; coin = 100*100/30000 + 150*100/30010; VWAP = USD / coin (harmonic).
    name: "inverse swap buy 250 contracts (ctVal 100 USD)",
    levels: D_ASKS,
    spec: INVERSE,
    unit: "contracts",
    amount: 250,
    expect: {
      filledBookUnits: 250,
      filledQuote: 25000,
      filledBase: 10000 / 30000 + 15000 / 30010,
      avgPrice: 25000 / (10000 / 30000 + 15000 / 30010),
      worstPrice: 30010,
      levelsConsumed: 2,
    },
  },
  {
    // Inverse quote notional is price-independent: 25000 USD / 100 USD per contract = 250 contracts.
    name: "inverse swap buy 25000 USD notional",
    levels: D_ASKS,
    spec: INVERSE,
    unit: "quote",
    amount: 25000,
    expect: {
      targetBookUnits: 250,
      filledBookUnits: 250,
      filledQuote: 25000,
      filledBase: 10000 / 30000 + 15000 / 30010,
    },
  },
  {
    // Inverse base: level 1 gives 100*100/30000 = 1/3 BTC; the remaining 0.5 - 1/3 = 1/6 BTC needs
    // (1/6) * 30010 / 100 = 50.0166... contracts -> target 150.0166, rounded DOWN to 150 contracts.
    name: "inverse swap buy 0.5 BTC (price-dependent size, lot-rounded down)",
    levels: D_ASKS,
    spec: INVERSE,
    unit: "base",
    amount: 0.5,
    expect: {
      orderBookUnits: 150,
      filledBookUnits: 150,
      filledQuote: 15000,
      filledBase: 10000 / 30000 + 5000 / 30010,
      lotRoundingApplied: true,
      fullyFilled: true,
    },
  },
  {
    // Inverse sell 200 contracts: 150 @ 29990 + 50 @ 29980 -> coin = 15000/29990 + 5000/29980
    name: "inverse swap sell 200 contracts",
    levels: D_BIDS,
    spec: INVERSE,
    unit: "contracts",
    amount: 200,
    expect: {
      filledQuote: 20000,
      filledBase: 15000 / 29990 + 5000 / 29980,
      avgPrice: 20000 / (15000 / 29990 + 5000 / 29980),
      levelsConsumed: 2,
    },
  },
  {
    // Book holds 100 + 200 + 500 = 800 contracts: 200 are left, in contracts.
    name: "partial fill: linear buy 1000 contracts on an 800-contract side",
    levels: D_ASKS,
    spec: LINEAR,
    unit: "contracts",
    amount: 1000,
    expect: {
      filledBookUnits: 800,
      filledBase: 8,
      fullyFilled: false,
      unfilledAmount: 200,
      unfilledBookUnits: 200,
      levelsConsumed: 3,
      worstPrice: 30050,
    },
  },
  {
    // Side is worth 200 + 303 + 515 = 1018 USDT: 10000 - 1018 = 8982 USDT unfilled; book units beyond the book unknown.
    name: "partial fill: spot buy 10000 USDT on a 1018-USDT side",
    levels: SPOT_ASKS,
    spec: SPOT,
    unit: "quote",
    amount: 10000,
    expect: {
      filledBase: 10,
      filledQuote: 1018,
      fullyFilled: false,
      unfilledAmount: 8982,
      unfilledBookUnits: null,
      levelsConsumed: 3,
    },
  },
  {
    // 12 BTC = 1200 contracts on an 800-contract side: 400 contracts = 4 BTC unfilled (price-independent for linear).
    name: "partial fill: linear buy 12 BTC reports the remainder in BTC",
    levels: D_ASKS,
    spec: LINEAR,
    unit: "base",
    amount: 12,
    expect: { filledBookUnits: 800, fullyFilled: false, unfilledAmount: 4, unfilledBookUnits: 400 },
  },
  {
    // lotSz 1: 2.7 contracts -> 2 contracts, 0.7 rounded off.
    name: "lot rounding: 2.7 contracts with lotSz 1",
    levels: D_ASKS,
    spec: LINEAR,
    unit: "contracts",
    amount: 2.7,
    expect: {
      targetBookUnits: 2.7,
      orderBookUnits: 2,
      filledBookUnits: 2,
      lotRoundingApplied: true,
      fullyFilled: true,
    },
  },
  {
    // 0.0255 BTC / 0.01 = 2.55 contracts -> 2 contracts (0.02 BTC).
    name: "lot rounding: 0.0255 BTC on a whole-contract swap",
    levels: D_ASKS,
    spec: LINEAR,
    unit: "base",
    amount: 0.0255,
    expect: { orderBookUnits: 2, filledBase: 0.02, lotRoundingApplied: true },
  },
  {
    // 0.3 / 0.1 is 2.9999999999999996 in floating point: must stay 0.3, not round down to 0.2.
    name: "lot rounding: 0.3 contracts with lotSz 0.1 is NOT rounded (float edge)",
    levels: D_ASKS,
    spec: { ...LINEAR, lotSz: 0.1, minSz: 0.1 },
    unit: "contracts",
    amount: 0.3,
    expect: { orderBookUnits: 0.3, filledBookUnits: 0.3, lotRoundingApplied: false },
  },
  {
    // 250 USDT: 200 buys 2 BTC, 50 buys 50/101 = 0.49504950495... BTC -> floor to 1e-8 = 0.49504950;
    // cost = 200 + 0.4950495 * 101 = 249.9999995 USDT.
    name: "lot rounding: spot buy 250 USDT rounds the BTC amount down to 1e-8",
    levels: SPOT_ASKS,
    spec: SPOT,
    unit: "quote",
    amount: 250,
    expect: { orderBookUnits: 2.4950495, filledBase: 2.4950495, lotRoundingApplied: true, levelsConsumed: 2 },
  },
];

describe("fillMarketOrder: hand-computed cases", () => {
  it.each(CASES)("$name", ({ levels, spec, unit, amount, expect: exp }) => {
    const r = ok(fillMarketOrder(levels, spec, unit, amount));
    for (const [k, v] of Object.entries(exp)) {
      const got = r[k as keyof FillResult];
      if (typeof v === "number") expect(got, k).toBeCloseTo(v, 9);
      else expect(got, k).toBe(v);
    }
    // Identities that hold for every fill.
    expect(r.avgPrice).toBeCloseTo(r.filledQuote / r.filledBase, 9);
    expect(r.orderBookUnits).toBeLessThanOrEqual(r.targetBookUnits + 1e-12);
  });

  it("spot buy 250 USDT: cost matches the hand computation to the cent", () => {
    const r = ok(fillMarketOrder(SPOT_ASKS, SPOT, "quote", 250));
    expect(r.filledQuote).toBeCloseTo(249.9999995, 9);
    expect(r.lotRoundedOffBookUnits).toBeCloseTo(50 / 101 - 0.4950495, 12);
  });
});

describe("fillMarketOrder: refusals", () => {
  it("contracts on a spot book", () => {
    const r = fillMarketOrder(SPOT_ASKS, SPOT, "contracts", 1);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.code).toBe("unit_not_applicable");
  });
  it("below one lot (0.5 contracts, lotSz 1)", () => {
    const r = fillMarketOrder(D_ASKS, LINEAR, "contracts", 0.5);
    expect(!r.ok && r.code).toBe("below_lot_size");
  });
  it("below minSz after rounding (0.5 contracts, lotSz 0.1, minSz 1)", () => {
    const r = fillMarketOrder(D_ASKS, { ...LINEAR, lotSz: 0.1, minSz: 1 }, "contracts", 0.5);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.code).toBe("below_min_size");
      expect(r.orderBookUnits).toBe(0.5);
      expect(r.limitBookUnits).toBe(1);
    }
  });
  it("spot size below minSz (0.000001 BTC, minSz 0.00001)", () => {
    const r = fillMarketOrder(SPOT_ASKS, SPOT, "base", 0.000001);
    expect(!r.ok && r.code).toBe("below_min_size");
  });
  it("exactly minSz is accepted", () => {
    expect(fillMarketOrder(SPOT_ASKS, SPOT, "base", 0.00001).ok).toBe(true);
    expect(fillMarketOrder(D_ASKS, LINEAR, "contracts", 1).ok).toBe(true);
  });
  it("empty side", () => {
    expect(fillMarketOrder([], LINEAR, "contracts", 1)).toMatchObject({ ok: false, code: "empty_book_side" });
  });
});

describe("lot helpers", () => {
  it.each([
    [0.3, 0.1, 0.3],
    [0.7999999999999999, 0.1, 0.8],
    [2.55, 1, 2],
    [1.23456789123, 0.00000001, 1.23456789],
    [5, 0.01, 5],
  ])("floorToLot(%s, %s) = %s", (x, lot, want) => expect(floorToLot(x, lot)).toBe(want));
  it.each([
    [1, 0],
    [0.1, 1],
    [0.00000001, 8],
    [1e-8, 8],
    [2.5e-7, 8],
  ])("decimalsOf(%s) = %s", (x, d) => expect(decimalsOf(x)).toBe(d));
});

// ---------------------------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------------------------

type Kind = "spot" | "linear" | "inverse";
const specOf = (kind: Kind, lotSz: number): FillSpec =>
  kind === "spot"
    ? { instType: "SPOT", ctType: "linear", ctVal: 1, ctMult: 1, lotSz, minSz: lotSz }
    : kind === "linear"
      ? { instType: "SWAP", ctType: "linear", ctVal: 0.01, ctMult: 1, lotSz, minSz: lotSz }
      : { instType: "SWAP", ctType: "inverse", ctVal: 100, ctMult: 1, lotSz, minSz: lotSz };

/** A valid side: `n` levels from `start`, strictly monotone by whole ticks, sizes whole multiples of `lot`. */
const sideArb = (lot: number) =>
  fc
    .record({
      start: fc.integer({ min: 1_000, max: 10_000_000 }),
      steps: fc.array(fc.integer({ min: 1, max: 500 }), { minLength: 0, maxLength: 60 }),
      sizes: fc.array(fc.integer({ min: 1, max: 5_000 }), { minLength: 61, maxLength: 61 }),
    })
    .map(({ start, steps, sizes }) => {
      const tick = 0.1;
      const prices = [start];
      for (const s of steps) prices.push(prices[prices.length - 1]! + s);
      return prices.map((p, i) => ({
        price: Number((p * tick).toFixed(1)),
        size: Number((sizes[i]! * lot).toFixed(8)),
      }));
    });

const scenario = fc.record({
  kind: fc.constantFrom<Kind>("spot", "linear", "inverse"),
  lot: fc.constantFrom(1, 0.1, 0.01),
  side: fc.constantFrom<"buy" | "sell">("buy", "sell"),
  frac: fc.double({ min: 0.0001, max: 1.5, noNaN: true }),
  frac2: fc.double({ min: 0.0001, max: 1.5, noNaN: true }),
  unit: fc.constantFrom<OrderUnit>("base", "contracts", "quote"),
});

function buildSide(raw: { price: number; size: number }[], side: "buy" | "sell"): PriceLevel[] {
  // asks ascending for a buy; bids descending for a sell (mirror the generated ladder downward from its top).
  if (side === "buy") return raw.map((l) => L(l.price, l.size));
  const top = raw[raw.length - 1]!.price + raw[0]!.price;
  return raw.map((l) => L(Number((top - l.price).toFixed(1)), l.size));
}

function totalOf(levels: readonly PriceLevel[], spec: FillSpec, unit: OrderUnit): number {
  const k = spec.instType === "SPOT" ? 1 : spec.ctVal * spec.ctMult;
  let t = 0;
  for (const l of levels) {
    if (unit === "contracts") t += l.size;
    else if (unit === "base") t += spec.ctType === "inverse" ? (l.size * k) / l.price : l.size * k;
    else t += spec.ctType === "inverse" ? l.size * k : l.size * k * l.price;
  }
  return t;
}

describe("fillMarketOrder: properties (fast-check)", () => {
  const args = scenario.chain((s) => fc.tuple(fc.constant(s), sideArb(s.lot)));

  it("VWAP lies between the best and the worst price touched; filled <= order <= target; filled <= available", () => {
    fc.assert(
      fc.property(args, ([s, raw]) => {
        const spec = specOf(s.kind, s.lot);
        const levels = buildSide(raw, s.side);
        const unit: OrderUnit = s.kind === "spot" && s.unit === "contracts" ? "base" : s.unit;
        const amount = totalOf(levels, spec, unit) * s.frac;
        const r = fillMarketOrder(levels, spec, unit, amount);
        if (!r.ok) {
          expect(["below_lot_size", "below_min_size"]).toContain(r.code);
          return;
        }
        const lo = Math.min(r.bestPrice, r.worstPrice);
        const hi = Math.max(r.bestPrice, r.worstPrice);
        expect(r.avgPrice).toBeGreaterThanOrEqual(lo * (1 - 1e-12));
        expect(r.avgPrice).toBeLessThanOrEqual(hi * (1 + 1e-12));
        expect(r.bestPrice).toBe(levels[0]!.price);
        const available = levels.reduce((a, l) => a + l.size, 0);
        expect(r.filledBookUnits).toBeLessThanOrEqual(available * (1 + 1e-12));
        expect(r.filledBookUnits).toBeLessThanOrEqual(r.orderBookUnits * (1 + 1e-12));
        expect(r.orderBookUnits).toBeLessThanOrEqual(r.targetBookUnits * (1 + 1e-12) + 1e-12);
        expect(r.levelsConsumed).toBeLessThanOrEqual(levels.length);
        if (r.fullyFilled) expect(r.unfilledAmount).toBe(0);
        else expect(r.unfilledAmount).toBeGreaterThan(0);
      }),
      { numRuns: 400 },
    );
  });

  it("cost is monotone in size: more size never gets a better average price or a smaller notional", () => {
    fc.assert(
      fc.property(args, ([s, raw]) => {
        const spec = specOf(s.kind, s.lot);
        const levels = buildSide(raw, s.side);
        const unit: OrderUnit = s.kind === "spot" ? "base" : "contracts";
        const total = totalOf(levels, spec, unit);
        const [a, b] = [Math.min(s.frac, s.frac2), Math.max(s.frac, s.frac2)];
        const ra = fillMarketOrder(levels, spec, unit, total * a);
        const rb = fillMarketOrder(levels, spec, unit, total * b);
        if (!ra.ok || !rb.ok) return;
        expect(rb.filledBookUnits).toBeGreaterThanOrEqual(ra.filledBookUnits);
        expect(rb.filledQuote).toBeGreaterThanOrEqual(ra.filledQuote * (1 - 1e-12));
        expect(rb.filledBase).toBeGreaterThanOrEqual(ra.filledBase * (1 - 1e-12));
        if (s.side === "buy") expect(rb.avgPrice).toBeGreaterThanOrEqual(ra.avgPrice * (1 - 1e-12));
        else expect(rb.avgPrice).toBeLessThanOrEqual(ra.avgPrice * (1 + 1e-12));
        expect(rb.levelsConsumed).toBeGreaterThanOrEqual(ra.levelsConsumed);
      }),
      { numRuns: 400 },
    );
  });

  it("buy and sell are mirror images on a mirrored book (prices p -> C - p)", () => {
    fc.assert(
      fc.property(args, ([s, raw]) => {
        const spec = specOf(s.kind === "inverse" ? "linear" : s.kind, s.lot);
        const asks = raw.map((l) => L(l.price, l.size));
        // Mirror around C: the asks become bids at C - p (descending), sizes unchanged.
        const C = Math.round(2 * (asks[asks.length - 1]!.price + 1) * 10) / 10;
        const bids = asks.map((l) => L(Number((C - l.price).toFixed(1)), l.size));
        const unit: OrderUnit = spec.instType === "SPOT" ? "base" : "contracts";
        const amount = totalOf(asks, spec, unit) * s.frac;
        const buy = fillMarketOrder(asks, spec, unit, amount);
        const sell = fillMarketOrder(bids, spec, unit, amount);
        expect(buy.ok).toBe(sell.ok);
        if (!buy.ok || !sell.ok) return;
        expect(sell.filledBookUnits).toBeCloseTo(buy.filledBookUnits, 9);
        expect(sell.filledBase).toBeCloseTo(buy.filledBase, 9);
        expect(sell.levelsConsumed).toBe(buy.levelsConsumed);
        expect(sell.fullyFilled).toBe(buy.fullyFilled);
        expect(sell.avgPrice).toBeCloseTo(C - buy.avgPrice, 6);
        expect(sell.worstPrice).toBeCloseTo(C - buy.worstPrice, 9);
        // Slippage vs the respective best, in quote currency, is the same on both sides.
        expect((sell.bestPrice - sell.avgPrice) * sell.filledBase).toBeCloseTo(
          (buy.avgPrice - buy.bestPrice) * buy.filledBase,
          4,
        );
      }),
      { numRuns: 300 },
    );
  });

  it("inverse contracts mirror too in contracts and levels (their coin amounts differ by design)", () => {
    fc.assert(
      fc.property(args, ([s, raw]) => {
        const spec = specOf("inverse", s.lot);
        const asks = raw.map((l) => L(l.price, l.size));
        const C = Math.round(2 * (asks[asks.length - 1]!.price + 1) * 10) / 10;
        const bids = asks.map((l) => L(Number((C - l.price).toFixed(1)), l.size));
        const amount = totalOf(asks, spec, "contracts") * s.frac;
        const buy = fillMarketOrder(asks, spec, "contracts", amount);
        const sell = fillMarketOrder(bids, spec, "contracts", amount);
        if (!buy.ok || !sell.ok) return;
        expect(sell.filledBookUnits).toBeCloseTo(buy.filledBookUnits, 9);
        expect(sell.filledQuote).toBeCloseTo(buy.filledQuote, 6);
        expect(sell.levelsConsumed).toBe(buy.levelsConsumed);
      }),
      { numRuns: 200 },
    );
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Real books from the bundled captures
// ---------------------------------------------------------------------------------------------------------------

/** Replay a capture and take a snapshot copy of one instrument's book every `every` messages. */
function bookSamples(path: string, instId: string, every: number): Book[] {
  const book = createBook(instId);
  const out: Book[] = [];
  let n = 0;
  for (const { json } of receivedMessages(path)) {
    const m = parseOkxMessage(json);
    if (m.kind !== "books" || m.arg.instId !== instId) continue;
    const r = applyBook(book, m.action, m.data);
    if (!r.ok) throw new Error(`${instId}: ${r.fault} ${r.detail}`);
    if (n++ % every === 0) out.push({ ...book, bids: [...book.bids], asks: [...book.asks] });
  }
  return out;
}

/** Decimal string -> BigInt scaled by 10^scale (exact). */
function scaled(s: string, scale: number): bigint {
  const [i, f = ""] = s.split(".");
  return BigInt(i! + f.padEnd(scale, "0").slice(0, scale));
}

/**
 * Independent reference for a contracts/base-sized order on a linear or spot book: exact decimal arithmetic on
 * OKX's original level strings (BigInt), so float accumulation in the engine is checked against exact sums.
 */
function exactLinearFill(side: Book["asks"], orderUnits: string, k: string) {
  const S = 12;
  let remaining = scaled(orderUnits, S);
  let quote = 0n; // scale 3S (size S * k S * px S)
  let filled = 0n;
  let levels = 0;
  const kk = scaled(k, S);
  for (const l of side) {
    if (remaining === 0n) break;
    const sz = scaled(l.sz, S);
    const take = sz < remaining ? sz : remaining;
    quote += take * kk * scaled(l.px, S);
    filled += take;
    remaining -= take;
    levels++;
  }
  return { filled: Number(filled) / 10 ** S, quote: Number(quote / 10n ** BigInt(S)) / 10 ** (2 * S), levels };
}

describe("fillMarketOrder on real captured books", () => {
  it("BTC-USDT-SWAP (real 400-level books, linear 0.01 BTC contracts): engine == exact decimal reference", () => {
    const spec: FillSpec = { instType: "SWAP", ctType: "linear", ctVal: 0.01, ctMult: 1, lotSz: 0.01, minSz: 0.01 };
    const books = bookSamples(DATA.btcSwap, "BTC-USDT-SWAP", 500);
    expect(books.length).toBeGreaterThan(10);
    let checked = 0;
    for (const b of books) {
      expect(b.asks.length).toBeGreaterThan(100);
      for (const contracts of ["0.01", "1", "137.42", "2500", "20000"]) {
        for (const side of ["buy", "sell"] as const) {
          const lv = side === "buy" ? b.asks : b.bids;
          const r = ok(fillMarketOrder(lv, spec, "contracts", Number(contracts)));
          const ref = exactLinearFill(lv, contracts, "0.01");
          expect(r.filledBookUnits).toBeCloseTo(ref.filled, 8);
          expect(r.filledQuote / ref.quote).toBeCloseTo(1, 12);
          expect(r.levelsConsumed).toBe(ref.levels);
          expect(r.filledBase).toBeCloseTo(ref.filled * 0.01, 10);
          if (side === "buy") expect(r.avgPrice).toBeGreaterThanOrEqual(b.asks[0]!.price);
          else expect(r.avgPrice).toBeLessThanOrEqual(b.bids[0]!.price);
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(100);
  });

  it("BTC-USDT spot (2022-05-13 capture): notional orders spend at most the notional, lot-rounded to 1e-8 BTC", () => {
    const spec: FillSpec = {
      instType: "SPOT",
      ctType: "linear",
      ctVal: 1,
      ctMult: 1,
      lotSz: 0.00000001,
      minSz: 0.00001,
    };
    for (const b of bookSamples(DATA.okx20220513, "BTC-USDT", 10)) {
      for (const usdt of [10, 1_000, 100_000, 2_000_000]) {
        const r = ok(fillMarketOrder(b.asks, spec, "quote", usdt));
        expect(r.filledQuote).toBeLessThanOrEqual(usdt * (1 + 1e-12));
        if (r.fullyFilled) {
          // Rounding down by < 1 lot (1e-8 BTC) leaves at most one lot's worth of quote unspent.
          expect(usdt - r.filledQuote).toBeLessThanOrEqual(r.worstPrice * 1e-8 * (1 + 1e-9) + 1e-9);
        }
        expect(Math.abs(r.filledBase / 1e-8 - Math.round(r.filledBase / 1e-8))).toBeLessThan(1e-6);
      }
    }
  });

  it("UNI-USD-SWAP and BTC-USD-220527 (real inverse books): coin amounts are contracts*ctVal/px per level", () => {
    for (const [instId, ctVal] of [
      ["UNI-USD-SWAP", 10],
      ["BTC-USD-220527", 100],
    ] as const) {
      const spec: FillSpec = {
        instType: instId.endsWith("SWAP") ? "SWAP" : "FUTURES",
        ctType: "inverse",
        ctVal,
        ctMult: 1,
        lotSz: 1,
        minSz: 1,
      };
      const books = bookSamples(DATA.okx20220513, instId, 10);
      expect(books.length).toBeGreaterThan(5);
      for (const b of books) {
        for (const contracts of [1, 50, 1000, 100000]) {
          for (const side of ["buy", "sell"] as const) {
            const lv = side === "buy" ? b.asks : b.bids;
            const r = ok(fillMarketOrder(lv, spec, "contracts", contracts));
            // Reference: explicit per-level loop written differently (cumulative sizes, then the boundary level).
            let coin = 0;
            let left = contracts;
            let used = 0;
            for (const l of lv) {
              if (left <= 0) break;
              const t = Math.min(l.size, left);
              coin += (t * ctVal) / l.price;
              left -= t;
              used++;
            }
            expect(r.filledBase).toBeCloseTo(coin, 10);
            expect(r.filledQuote).toBeCloseTo((contracts - Math.max(left, 0)) * ctVal, 6);
            expect(r.levelsConsumed).toBe(used);
            expect(r.fullyFilled).toBe(left <= 0);
            const lo = Math.min(r.bestPrice, r.worstPrice);
            const hi = Math.max(r.bestPrice, r.worstPrice);
            expect(r.avgPrice).toBeGreaterThanOrEqual(lo * (1 - 1e-12));
            expect(r.avgPrice).toBeLessThanOrEqual(hi * (1 + 1e-12));
          }
        }
      }
    }
  });
});
