/**
 * Cost curve and reverse query (src/sim/curve.ts) against the single-order engine: on generated books, specs,
 * units and price bounds the one-pass curve must equal N calls of fillMarketOrder, and the reverse query must equal
 * a brute-force search over every lot multiple. Plus a real 400-level book.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { applyBook, createBook } from "../src/okx/book.js";
import { parseOkxMessage } from "../src/okx/protocol.js";
import { costCurve, depthProfile, largestWithinSlippage } from "../src/sim/curve.js";
import { fillMarketOrder, type FillSpec, type OrderUnit, type PriceLevel } from "../src/sim/fill.js";
import { DATA, receivedMessages } from "../tools/lib/captures.js";

const SPECS: Record<string, FillSpec> = {
  linear: { instType: "SWAP", ctType: "linear", ctVal: 0.01, ctMult: 1, lotSz: 1, minSz: 1 },
  inverse: { instType: "SWAP", ctType: "inverse", ctVal: 100, ctMult: 1, lotSz: 1, minSz: 1 },
  spot: { instType: "SPOT", ctType: "linear", ctVal: 1, ctMult: 1, lotSz: 0.001, minSz: 0.001 },
};

/** A side best first: prices strictly monotone from `start` in ticks of 0.5, sizes in whole lots. */
const sideArb = (dir: 1 | -1, lot: number) =>
  fc
    .array(fc.record({ gap: fc.integer({ min: 1, max: 40 }), lots: fc.integer({ min: 1, max: 400 }) }), {
      minLength: 1,
      maxLength: 25,
    })
    .map((ls) => {
      let p = 30000;
      return ls.map(({ gap, lots }, i) => {
        if (i > 0) p += dir * gap * 0.5;
        return { price: p, size: +(lots * lot).toFixed(6) } satisfies PriceLevel;
      });
    });

function close(a: number | null, b: number | null, rel = 1e-12): void {
  if (a === null || b === null) {
    expect(a).toBe(b);
    return;
  }
  expect(Math.abs(a - b)).toBeLessThanOrEqual(rel * Math.max(1, Math.abs(b)));
}

describe("costCurve == N single fills", () => {
  it("generated books, every spec kind and unit, with and without a price bound", () => {
    fc.assert(
      fc.property(
        fc.constantFrom("linear", "inverse", "spot"),
        fc.constantFrom<OrderUnit>("base", "contracts", "quote"),
        fc.boolean(),
        fc.integer({ min: 0, max: 30 }),
        fc.array(fc.double({ min: 0.0001, max: 1, noNaN: true }), { minLength: 1, maxLength: 12 }),
        fc.boolean(),
        (kind, unit0, buy, cut, fracs, noLot) => {
          const spec = SPECS[kind]!;
          const unit: OrderUnit = kind === "spot" && unit0 === "contracts" ? "base" : unit0;
          return fc.assert(
            fc.property(sideArb(buy ? 1 : -1, spec.lotSz), (levels) => {
              const usable = Math.min(levels.length, cut === 0 ? levels.length : cut);
              // Sizes spread over the whole side (and beyond it), in the order's unit.
              const p = depthProfile(levels, spec, usable);
              const total =
                unit === "contracts"
                  ? p.units[levels.length]!
                  : unit === "base"
                    ? p.base[levels.length]!
                    : p.quote[levels.length]!;
              const amounts = fracs.map((f) => f * total * 1.2);
              const nl = noLot && kind === "spot" && unit === "quote";
              const curve = costCurve(p, spec, unit, amounts, nl);
              for (const [i, a] of amounts.entries()) {
                const one = fillMarketOrder(levels, spec, unit, a, { usableLevels: usable, noLotRounding: nl });
                const c = curve[i]!;
                if (!one.ok) {
                  if (one.code === "no_fill") expect(c.ok && c.filledBookUnits === 0).toBe(true);
                  else expect(c).toMatchObject({ ok: false, code: one.code });
                  continue;
                }
                expect(c.ok).toBe(true);
                if (!c.ok) continue;
                close(c.orderBookUnits, one.orderBookUnits);
                close(c.filledBookUnits, one.filledBookUnits);
                close(c.filledBase, one.filledBase);
                close(c.filledQuote, one.filledQuote);
                close(c.avgPrice, one.avgPrice);
                expect(c.levelsConsumed).toBe(one.levelsConsumed);
                expect(c.fullyFilled).toBe(one.fullyFilled);
              }
            }),
            { numRuns: 15 },
          );
        },
      ),
      { numRuns: 40 },
    );
  });

  it("a real 400-level BTC-USDT-SWAP ask side: 64 sizes in one pass == 64 single fills", () => {
    const b = createBook("BTC-USDT-SWAP");
    let k = 0;
    for (const { json } of receivedMessages(DATA.btcSwap)) {
      const m = parseOkxMessage(json);
      if (m.kind === "books") applyBook(b, m.action, m.data);
      if (++k > 3000) break;
    }
    const levels = b.asks.slice(0, 400).map((l) => ({ price: l.price, size: l.size }));
    const spec: FillSpec = { instType: "SWAP", ctType: "linear", ctVal: 0.01, ctMult: 1, lotSz: 0.01, minSz: 0.01 };
    const sizes = Array.from({ length: 64 }, (_, i) => +((i + 1) ** 2 * 3.17).toFixed(2));
    const curve = costCurve(depthProfile(levels, spec), spec, "contracts", sizes);
    for (const [i, s] of sizes.entries()) {
      const one = fillMarketOrder(levels, spec, "contracts", s);
      const c = curve[i]!;
      if (!one.ok || !c.ok) throw new Error("unexpected reject");
      expect(c.filledBookUnits).toBe(one.filledBookUnits);
      expect(c.filledBase).toBe(one.filledBase);
      close(c.filledQuote, one.filledQuote);
      close(c.avgPrice, one.avgPrice);
      expect(c.levelsConsumed).toBe(one.levelsConsumed);
    }
  });
});

describe("largestWithinSlippage == brute force over the lot multiples", () => {
  it("generated books (linear and inverse, buy and sell, lotSz 0.01), bounds from 0.1 to 8 bps", () => {
    fc.assert(
      fc.property(
        fc.constantFrom("linear", "inverse"),
        fc.boolean(),
        // Bounds where the answer falls inside the book: 0.1..8 bps (fc.double would favour the extremes 0 and max).
        fc.integer({ min: 1, max: 80 }).map((x) => x / 10),
        fc.integer({ min: 1, max: 300 }),
        (kind, buy, bps, minLots) => {
          const spec = { ...SPECS[kind]!, lotSz: 0.01, minSz: minLots / 100 };
          return fc.assert(
            fc.property(
              sideArb(buy ? 1 : -1, 0.01).map((ls) => ls.slice(0, 8)),
              fc.integer({ min: 1, max: 8 }).map((x) => x / 4),
              (levels, halfSpread) => {
                const side = buy ? "buy" : "sell";
                const mid = levels[0]!.price - (buy ? halfSpread : -halfSpread);
                const got = largestWithinSlippage(depthProfile(levels, spec), spec, side, mid, bps);
                // Slippage vs mid never falls as the order grows: binary search the largest lot count within the bound.
                const slip = (lots: number) => {
                  const f = fillMarketOrder(levels, spec, "contracts", lots / 100);
                  if (!f.ok) throw new Error(f.message);
                  return f.fullyFilled ? ((buy ? 1 : -1) * (f.avgPrice - mid) * 1e4) / mid : Infinity;
                };
                const total = Math.round(levels.reduce((s, l) => s + l.size, 0) * 100);
                let want = 0;
                if (minLots <= total && slip(minLots) <= bps + 1e-9) {
                  let lo = minLots;
                  let hi = total;
                  while (lo < hi) {
                    const m = Math.ceil((lo + hi) / 2);
                    if (slip(m) <= bps + 1e-9) lo = m;
                    else hi = m - 1;
                  }
                  want = lo / 100;
                }
                expect(got).toBeCloseTo(want, 9);
              },
            ),
            { numRuns: 20 },
          );
        },
      ),
      { numRuns: 40 },
    );
  });
});
