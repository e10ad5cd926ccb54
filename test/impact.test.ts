import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  costSign,
  latencyRisk,
  SECONDS_PER_DAY,
  SECONDS_PER_YEAR,
  sigmaPerSecond,
  sqrtLawEstimate,
  walkTheBookImpact,
} from "../src/sim/impact.js";
import { simulateTrade } from "../src/sim/simulate.js";
import { BTC_USDT_SWAP } from "./helpers/specs.js";

describe("24/7 clock", () => {
  it("a year is 365 days of 86,400 s (31,536,000 s), never 252 trading days", () => {
    expect(SECONDS_PER_DAY).toBe(86_400);
    expect(SECONDS_PER_YEAR).toBe(31_536_000);
  });

  it("annualised 60 % -> 0.6 / sqrt(31,536,000) per second = 1.06843e-4", () => {
    const s = sigmaPerSecond(0.6, "annualised");
    expect(s).toBeCloseTo(1.0684e-4, 8);
    expect(s).toBeCloseTo(0.6 / Math.sqrt(31_536_000), 15);
    // The equity convention would give 0.6 / sqrt(252 * 86400) = 1.2853e-4: 20 % too high.
    expect(s).not.toBeCloseTo(0.6 / Math.sqrt(252 * 86_400), 6);
    // Round trip: per-second back to annualised.
    expect(s * Math.sqrt(SECONDS_PER_YEAR)).toBeCloseTo(0.6, 12);
  });

  it("per_second is taken as is", () => {
    expect(sigmaPerSecond(2e-4, "per_second")).toBe(2e-4);
  });
});

describe("square-root law (pre-trade estimate)", () => {
  it("hand-computed: sigma_s 1e-4, Q 100, ADV 10,000, Y 1 -> 1e-4*sqrt(86400)*sqrt(0.01) = 29.3939 bps", () => {
    const e = sqrtLawEstimate({ sigmaPerSecond: 1e-4, adv24hBase: 10_000, qtyBase: 100, refPrice: 50_000 });
    expect(e.available).toBe(true);
    if (!e.available) return;
    expect(e.y).toBe(1);
    expect(e.sigmaDaily).toBeCloseTo(0.0293939, 6);
    expect(e.participation).toBe(0.01);
    expect(e.impactBps).toBeCloseTo(29.3939, 3);
    // In quote: 0.00293939 * 100 BTC * 50,000 = 14,696.9 USDT
    expect(e.impactQuote).toBeCloseTo(14_696.94, 1);
  });

  it("Y scales linearly and is echoed", () => {
    const a = sqrtLawEstimate({ sigmaPerSecond: 1e-4, adv24hBase: 10_000, qtyBase: 100, refPrice: 1 });
    const b = sqrtLawEstimate({ sigmaPerSecond: 1e-4, adv24hBase: 10_000, qtyBase: 100, refPrice: 1, y: 0.5 });
    expect(a.available && b.available && b.impactBps / a.impactBps).toBeCloseTo(0.5, 12);
    expect(b.y).toBe(0.5);
  });

  it("4x the size -> 2x the impact (square root)", () => {
    const a = sqrtLawEstimate({ sigmaPerSecond: 1e-4, adv24hBase: 10_000, qtyBase: 25, refPrice: 1 });
    const b = sqrtLawEstimate({ sigmaPerSecond: 1e-4, adv24hBase: 10_000, qtyBase: 100, refPrice: 1 });
    expect(a.available && b.available && b.impactBps / a.impactBps).toBeCloseTo(2, 12);
  });

  it("never invents a missing input", () => {
    expect(sqrtLawEstimate({ qtyBase: 1, refPrice: 1 })).toEqual({
      available: false,
      y: 1,
      missing: ["volatility", "adv24hBase"],
    });
    expect(sqrtLawEstimate({ sigmaPerSecond: 1e-4, qtyBase: 1, refPrice: 1 })).toEqual({
      available: false,
      y: 1,
      missing: ["adv24hBase"],
    });
    expect(sqrtLawEstimate({ adv24hBase: 5, qtyBase: 1, refPrice: 1 })).toEqual({
      available: false,
      y: 1,
      missing: ["volatility"],
    });
  });
});

describe("walk-the-book impact", () => {
  it("buy: avg 30006 vs best 30000 = +2 bps; touch moved 30000 -> 30010 = 3.333 bps", () => {
    const w = walkTheBookImpact("buy", 30006, 30000, 30010, 2.5);
    expect(w.avgVsBestBps).toBeCloseTo(2, 10);
    expect(w.avgVsBestQuote).toBeCloseTo(15, 8); // 6 USDT * 2.5 BTC
    expect(w.touchMoveBps).toBeCloseTo(10 / 3, 10);
  });

  it("sell: selling below the best bid is a positive cost", () => {
    const w = walkTheBookImpact("sell", 29983.75, 29990, 29980, 4);
    expect(w.avgVsBestBps).toBeCloseTo((6.25 / 29990) * 1e4, 10);
    expect(w.avgVsBestQuote).toBeCloseTo(25, 8);
    expect(w.touchMoveBps).toBeGreaterThan(0);
  });

  it("cost sign", () => {
    expect(costSign("buy")).toBe(1);
    expect(costSign("sell")).toBe(-1);
  });
});

describe("latency risk", () => {
  it("sigma_s 1e-4 over 100 ms = 1e-4 * sqrt(0.1) = 0.316 bps; 1 sigma on 10,000 USDT = 0.316 USDT", () => {
    const r = latencyRisk(1e-4, 100, 10_000);
    expect(r.oneSigmaBps).toBeCloseTo(0.316228, 5);
    expect(r.oneSigmaQuote).toBeCloseTo(0.316228, 5);
  });
});

describe("impact in simulateTrade", () => {
  const SWAP = BTC_USDT_SWAP;
  const orderbook = {
    bids: [["29990", "150"]],
    asks: [
      ["30000", "100"],
      ["30010", "200"],
    ],
  };

  it("states its parameters, marks Almgren-Chriss as not applicable, and keeps the model out of netCost", () => {
    const out = simulateTrade({
      request: {
        instId: "BTC-USDT-SWAP",
        side: "buy",
        contracts: 250,
        orderbook,
        volatility: { value: 0.5, unit: "annualised" },
        adv24hBase: 1000,
        latencyMs: 200,
        sqrtImpactY: 0.8,
      },
      instrument: SWAP,
      instrumentSource: "request",
      nowMs: 0,
    });
    if (!out.ok) throw new Error(out.error.message);
    const r = out.response;
    const sigS = 0.5 / Math.sqrt(31_536_000);
    const p = r.marketImpact.preTrade;
    expect(p.available).toBe(true);
    expect(p.sigmaPerSecond).toBeCloseTo(sigS, 15);
    expect(p.sigmaAnnualised).toBeCloseTo(0.5, 12);
    expect(p.sigmaDaily).toBeCloseTo(0.5 / Math.sqrt(365), 12);
    expect(p.participation).toBeCloseTo(2.5 / 1000, 12);
    expect(p.impactBps).toBeCloseTo(0.8 * (0.5 / Math.sqrt(365)) * Math.sqrt(0.0025) * 1e4, 8);
    expect(p.y).toBe(0.8);
    expect(p.clock).toMatch(/31,536,000/);
    expect(r.marketImpact.almgrenChriss.applicable).toBe(false);
    expect(r.marketImpact.latency).toMatchObject({ latencyMs: 200, sigmaSqrtT: { available: true, reason: null } });
    expect(r.marketImpact.latency!.sigmaSqrtT.oneSigmaBps).toBeCloseTo(sigS * Math.sqrt(0.2) * 1e4, 10);
    // Walk-the-book: VWAP 30006 vs best 30000.
    expect(r.marketImpact.walkTheBook.avgVsBestBps).toBeCloseTo(2, 9);
    // netCost = half spread + book impact + fee, nothing else.
    const mid = 29995;
    const half = (30000 - mid) * 2.5;
    const book = (30006 - 30000) * 2.5;
    const fee = 0.0005 * 75015;
    expect(r.netCost.components.halfSpreadQuote).toBeCloseTo(half, 8);
    expect(r.netCost.components.bookImpactQuote).toBeCloseTo(book, 8);
    expect(r.netCost.quote).toBeCloseTo(half + book + fee, 8);
    expect(r.netCost.quote).toBeCloseTo(r.slippage.vsMidQuote + r.fee.amountQuote, 8);
    expect(r.netCost.bps).toBeCloseTo(((half + book + fee) / (2.5 * mid)) * 1e4, 8);
    expect(r.takerShare).toBe(1);
  });

  it("without volatility/ADV the estimate is unavailable, and latency says what is missing", () => {
    const out = simulateTrade({
      request: { instId: "BTC-USDT-SWAP", side: "sell", contracts: 10, orderbook, latencyMs: 50 },
      instrument: SWAP,
      instrumentSource: "request",
      nowMs: 0,
    });
    if (!out.ok) throw new Error(out.error.message);
    const p = out.response.marketImpact.preTrade;
    expect(p).toMatchObject({
      available: false,
      missing: ["volatility", "adv24hBase"],
      impactBps: null,
      sigmaPerSecond: null,
    });
    expect(out.response.marketImpact.latency?.sigmaSqrtT).toEqual({
      available: false,
      reason: expect.stringMatching(/needs volatility/),
      oneSigmaBps: null,
      oneSigmaQuote: null,
    });
    expect(out.response.marketImpact.latency?.empirical).toMatchObject({
      available: false,
      reason: expect.stringMatching(/omit orderbook/),
    });
  });

  it("property, on generated books: the impact figures equal an independent walk, and their identities hold", () => {
    // Books are generated too (issue #18): 1..12 levels a side, strictly monotone prices on the 0.1 tick, a spread
    // of 1..50 ticks, whole-contract sizes; orders of any size (also beyond the book) on either side.
    const sideArb = fc.array(
      fc.record({ gap: fc.integer({ min: 1, max: 30 }), size: fc.integer({ min: 1, max: 500 }) }),
      { minLength: 1, maxLength: 12 },
    );
    fc.assert(
      fc.property(
        sideArb,
        sideArb,
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 1, max: 3000 }),
        fc.constantFrom<"buy" | "sell">("buy", "sell"),
        (bidL, askL, spreadTicks, contracts, side) => {
          const bestBidTicks = 300_000;
          let t = bestBidTicks;
          const bids = bidL.map(({ gap, size }, i) => {
            if (i > 0) t -= gap;
            return { px: t / 10, size };
          });
          t = bestBidTicks + spreadTicks;
          const asks = askL.map(({ gap, size }, i) => {
            if (i > 0) t += gap;
            return { px: t / 10, size };
          });
          const book = {
            bids: bids.map((l) => [String(l.px), String(l.size)]),
            asks: asks.map((l) => [String(l.px), String(l.size)]),
          };
          const out = simulateTrade({
            request: { instId: "BTC-USDT-SWAP", side, contracts, orderbook: book },
            instrument: SWAP,
            instrumentSource: "request",
            nowMs: 0,
          });
          if (!out.ok) throw new Error(out.error.message);
          const r = out.response;
          // Independent walk: contracts of 0.01 BTC, best level first.
          const levels = side === "buy" ? asks : bids;
          let left = contracts;
          let base = 0;
          let quote = 0;
          let worst = levels[0]!.px;
          for (const l of levels) {
            if (left <= 0) break;
            const take = Math.min(left, l.size);
            base += take * 0.01;
            quote += take * 0.01 * l.px;
            worst = l.px;
            left -= take;
          }
          const best = levels[0]!.px;
          const mid = (bids[0]!.px + asks[0]!.px) / 2;
          const s = side === "buy" ? 1 : -1;
          const avg = quote / base;
          const tol = (x: number) => 1e-9 * Math.max(1, Math.abs(x));
          expect(
            Math.abs(r.marketImpact.walkTheBook.avgVsBestBps - (s * (avg - best) * 1e4) / best),
          ).toBeLessThanOrEqual(1e-6);
          expect(Math.abs(r.marketImpact.walkTheBook.avgVsBestQuote - s * (avg - best) * base)).toBeLessThanOrEqual(
            tol(quote) * 1e-3 + 1e-6,
          );
          expect(
            Math.abs(r.marketImpact.walkTheBook.touchMoveBps - (s * (worst - best) * 1e4) / best),
          ).toBeLessThanOrEqual(1e-9);
          expect(Math.abs(r.slippage.vsMidQuote - s * (avg - mid) * base)).toBeLessThanOrEqual(
            1e-6 * Math.max(1, quote) * 1e-3,
          );
          // Identities: vs mid = half spread + walk; 0 <= walk <= touch move; net = vs mid + fee >= fee.
          const c = r.netCost.components;
          expect(Math.abs(r.slippage.vsMidQuote - (c.halfSpreadQuote + c.bookImpactQuote))).toBeLessThanOrEqual(
            tol(r.slippage.vsMidQuote) + 1e-9,
          );
          expect(c.halfSpreadQuote).toBeCloseTo((spreadTicks / 20) * base, 6);
          expect(r.marketImpact.walkTheBook.avgVsBestBps).toBeGreaterThanOrEqual(-1e-9);
          expect(r.marketImpact.walkTheBook.avgVsBestBps).toBeLessThanOrEqual(
            r.marketImpact.walkTheBook.touchMoveBps + 1e-9,
          );
          expect(r.netCost.quote).toBeGreaterThanOrEqual(r.fee.amountQuote);
        },
      ),
      { numRuns: 500 },
    );
  });
});
