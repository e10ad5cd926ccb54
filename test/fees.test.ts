import { describe, expect, it } from "vitest";
import { FEE_TABLE, FEE_TIERS, feeRow, feeScheduleFor, takerFee, takerRate, type FeeTier } from "../src/sim/fees.js";
import { simulateTrade } from "../src/sim/simulate.js";
import type { InstrumentSpec } from "../src/sim/instruments.js";
import { BTC_USDT_SWAP } from "./helpers/specs.js";

// The schedule as printed by OKX, in percent (see the provenance comment in src/sim/fees.ts).
const EXPECTED_PCT: Record<"spot" | "derivatives", Record<FeeTier, [maker: number, taker: number]>> = {
  spot: {
    Lv1: [0.08, 0.1],
    Lv2: [0.075, 0.095],
    Lv3: [0.07, 0.09],
    Lv4: [0.065, 0.085],
    Lv5: [0.06, 0.08],
    VIP1: [0.06, 0.08],
    VIP2: [0.05, 0.07],
    VIP3: [0.03, 0.06],
    VIP4: [0.02, 0.05],
    VIP5: [0, 0.04],
    VIP6: [-0.002, 0.03],
    VIP7: [-0.005, 0.025],
    VIP8: [-0.005, 0.02],
  },
  derivatives: {
    Lv1: [0.02, 0.05],
    Lv2: [0.018, 0.045],
    Lv3: [0.016, 0.04],
    Lv4: [0.014, 0.035],
    Lv5: [0.012, 0.03],
    VIP1: [0.015, 0.04],
    VIP2: [0.01, 0.035],
    VIP3: [0.005, 0.03],
    VIP4: [0, 0.027],
    VIP5: [-0.005, 0.025],
    VIP6: [-0.005, 0.02],
    VIP7: [-0.005, 0.018],
    VIP8: [-0.005, 0.015],
  },
};

describe("fee table", () => {
  for (const schedule of ["spot", "derivatives"] as const) {
    it.each(FEE_TIERS.map((t) => [t]))(
      `${schedule} %s: maker/taker as OKX prints them (percent -> fraction)`,
      (tier) => {
        const [makerPct, takerPct] = EXPECTED_PCT[schedule][tier];
        const row = feeRow(schedule, tier);
        expect(row.maker).toBeCloseTo(makerPct / 100, 12);
        expect(row.taker).toBeCloseTo(takerPct / 100, 12);
        expect(takerRate(schedule, tier)).toBe(row.taker);
        // Sanity a transcription error would break: takers never earn, and pay at least the maker rate.
        expect(row.taker).toBeGreaterThan(0);
        expect(row.taker).toBeGreaterThanOrEqual(row.maker);
      },
    );
  }

  it("rates are exact decimals (0.095 % is 0.00095, not 0.0009500000000000001)", () => {
    expect(FEE_TABLE.spot.Lv2.taker).toBe(0.00095);
    expect(FEE_TABLE.derivatives.Lv1.taker).toBe(0.0005);
    expect(FEE_TABLE.spot.VIP6.maker).toBe(-0.00002);
  });

  it("taker rates never rise with the tier, within the regular and the VIP ladders", () => {
    for (const schedule of ["spot", "derivatives"] as const) {
      for (const ladder of [FEE_TIERS.slice(0, 5), FEE_TIERS.slice(5)]) {
        for (let i = 1; i < ladder.length; i++)
          expect(feeRow(schedule, ladder[i]!).taker).toBeLessThanOrEqual(feeRow(schedule, ladder[i - 1]!).taker);
      }
    }
  });

  it("provenance is explicit: spot rows and derivatives Lv1 verified, the other derivatives rows flagged", () => {
    for (const t of FEE_TIERS) expect(FEE_TABLE.spot[t].verified).toBe(true);
    expect(FEE_TABLE.derivatives.Lv1.verified).toBe(true);
    for (const t of FEE_TIERS.slice(1)) expect(FEE_TABLE.derivatives[t].verified).toBe(false);
  });

  it("schedules by instrument type (options have their own, not simulated)", () => {
    expect(feeScheduleFor("SPOT")).toBe("spot");
    expect(feeScheduleFor("MARGIN")).toBe("spot");
    expect(feeScheduleFor("SWAP")).toBe("derivatives");
    expect(feeScheduleFor("FUTURES")).toBe("derivatives");
    expect(feeScheduleFor("OPTION")).toBeNull();
  });
});

describe("takerFee: amount and currency as OKX charges it", () => {
  const ccy = { baseCcy: "BTC", quoteCcy: "USDT", settleCcy: "USDT" };
  it("spot buy pays in the base coin it receives: 0.1 % of 2 BTC = 0.002 BTC (worth 0.1 % of 60000 USDT = 60)", () => {
    const f = takerFee(0.001, "buy", "spot", 2, 60000, { ...ccy, settleCcy: "" });
    expect(f).toEqual({ rate: 0.001, amount: 0.002, currency: "BTC", amountQuote: 60 });
  });
  it("spot sell pays in the quote currency it receives: 0.1 % of 60000 USDT = 60 USDT", () => {
    expect(takerFee(0.001, "sell", "spot", 2, 60000, { ...ccy, settleCcy: "" })).toEqual({
      rate: 0.001,
      amount: 60,
      currency: "USDT",
      amountQuote: 60,
    });
  });
  it("linear swap pays in the settlement currency: 0.05 % of 75015 USDT = 37.5075 USDT", () => {
    const f = takerFee(0.0005, "buy", "linear", 2.5, 75015, ccy);
    expect(f.currency).toBe("USDT");
    expect(f.amount).toBeCloseTo(37.5075, 10);
  });
  it("inverse swap pays in the coin: 0.05 % of 250 contracts * 100 USD / 30000 = 0.000416667 BTC", () => {
    const coin = (250 * 100) / 30000;
    const f = takerFee(0.0005, "sell", "inverse", coin, 25000, { baseCcy: "BTC", quoteCcy: "USD", settleCcy: "BTC" });
    expect(f.currency).toBe("BTC");
    expect(f.amount).toBeCloseTo(0.0005 * coin, 15);
    expect(f.amountQuote).toBeCloseTo(12.5, 10);
  });
});

describe("every fee tier through simulateTrade", () => {
  const SWAP = BTC_USDT_SWAP;
  const SPOT: InstrumentSpec = {
    ...SWAP,
    instId: "BTC-USDT",
    instType: "SPOT",
    ctVal: 1,
    lotSz: 0.00000001,
    minSz: 0.00001,
    settleCcy: "",
  };
  const orderbook = {
    bids: [["29990", "150"]],
    asks: [
      ["30000", "100"],
      ["30010", "200"],
    ],
  };
  // The same depth in spot units (BTC): 100 contracts of 0.01 BTC = 1 BTC.
  const spotBook = {
    bids: [["29990", "1.5"]],
    asks: [
      ["30000", "1"],
      ["30010", "2"],
    ],
  };

  for (const [name, inst, schedule] of [
    ["linear swap", SWAP, "derivatives"],
    ["spot", SPOT, "spot"],
  ] as const) {
    it.each(FEE_TIERS.map((t) => [t]))(`${name} %s`, (tier) => {
      const amount = inst.instType === "SPOT" ? { size: 2.5 } : { contracts: 250 };
      const book = inst.instType === "SPOT" ? spotBook : orderbook;
      const out = simulateTrade({
        request: { instId: inst.instId, side: "buy", ...amount, orderbook: book, feeTier: tier },
        instrument: inst,
        instrumentSource: "request",
        nowMs: 0,
      });
      if (!out.ok) throw new Error(out.error.message);
      const r = out.response;
      const rate = EXPECTED_PCT[schedule][tier][1] / 100;
      // Hand-computed fill: 100 units @ 30000 + 150 @ 30010 (contracts of 0.01 BTC), or 1 BTC @ 30000 + 1.5 BTC @ 30010 (spot)
      const quote = inst.instType === "SPOT" ? 30000 + 1.5 * 30010 : 100 * 0.01 * 30000 + 150 * 0.01 * 30010;
      expect(r.fill.filledQuote).toBeCloseTo(quote, 8);
      expect(r.fee.tier).toBe(tier);
      expect(r.fee.schedule).toBe(schedule);
      expect(r.fee.rate).toBeCloseTo(rate, 12);
      expect(r.fee.amountQuote).toBeCloseTo(rate * quote, 8);
      if (inst.instType === "SPOT") {
        expect(r.fee.currency).toBe("BTC");
        expect(r.fee.amountInFeeCcy).toBeCloseTo(rate * 2.5, 12);
      } else {
        expect(r.fee.currency).toBe("USDT");
        expect(r.fee.amountInFeeCcy).toBeCloseTo(rate * quote, 8);
      }
      expect(r.fee.verified).toBe(FEE_TABLE[schedule][tier].verified);
      if (!r.fee.verified) expect(r.warnings.join(" ")).toMatch(/unverified/);
    });
  }

  it("takerFeeRate overrides the table and is echoed as such", () => {
    const out = simulateTrade({
      request: { instId: "BTC-USDT-SWAP", side: "buy", contracts: 250, orderbook, takerFeeRate: 0.0002 },
      instrument: SWAP,
      instrumentSource: "request",
      nowMs: 0,
    });
    if (!out.ok) throw new Error(out.error.message);
    expect(out.response.fee).toMatchObject({ tier: null, rateSource: "takerFeeRate", rate: 0.0002, verified: true });
    expect(out.response.fee.amountInFeeCcy).toBeCloseTo(0.0002 * 75015, 10);
  });

  it("no tier given: Lv1, and the response says it assumed so", () => {
    const out = simulateTrade({
      request: { instId: "BTC-USDT-SWAP", side: "buy", contracts: 250, orderbook },
      instrument: SWAP,
      instrumentSource: "request",
      nowMs: 0,
    });
    if (!out.ok) throw new Error(out.error.message);
    expect(out.response.fee).toMatchObject({ tier: "Lv1", rateSource: "default Lv1", rate: 0.0005 });
    expect(out.response.warnings.join(" ")).toMatch(/assumed Lv1/);
  });
});
