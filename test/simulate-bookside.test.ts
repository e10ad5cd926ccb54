/**
 * `parseBookSide` (src/sim/simulate.ts) was rewritten as a happy-path loop with one combined test per level and
 * the detailed checks moved to the error path. This file pins it to the previous strict implementation (copied
 * below verbatim as `reference`): same levels, same first error (code, message, path) on every input, for both
 * sides and any `keep`. The table in test/schema.test.ts covers each error class by hand.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { PriceLevel } from "../src/sim/fill.js";
import { parseBookSide, parseDecimal, type SimError } from "../src/sim/simulate.js";

/** The implementation before the rewrite (commit 3328346), unchanged but for its name. */
function reference(
  raw: readonly unknown[],
  name: "bids" | "asks",
  keep = raw.length,
): PriceLevel[] | (SimError & { path: string }) {
  const toNumber = (v: unknown) => (typeof v === "number" ? v : typeof v === "string" ? parseDecimal(v) : NaN);
  const desc = name === "bids";
  const out = new Array<PriceLevel>(Math.min(keep, raw.length));
  let prev = NaN;
  for (let i = 0; i < raw.length; i++) {
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
    if (i > 0) {
      if (price === prev)
        return {
          status: 400,
          code: "duplicate_price",
          message: `price ${String(l[0])} appears twice in ${name}; merge the levels`,
          path: `orderbook.${name}[${i}][0]`,
        };
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

/** A value of a level: mostly valid decimals near each other (so order and duplicates vary), sometimes junk. */
const value = fc.oneof(
  { weight: 12, arbitrary: fc.integer({ min: 1, max: 40 }).map((k) => (k / 4).toString()) },
  { weight: 4, arbitrary: fc.integer({ min: 1, max: 40 }).map((k) => k / 4) },
  { weight: 2, arbitrary: fc.constantFrom("0", "-1", "1e400", "1e-400", "NaN", "", " 1", "1.", ".5", "2.50", "1e1") },
  { weight: 2, arbitrary: fc.constantFrom(0, -0, -1, Number.NaN, Infinity, -Infinity, 5e-324, 1e308) },
  { weight: 1, arbitrary: fc.constantFrom(null, undefined, true, {}, [], "x") },
);
const level = fc.oneof(
  { weight: 20, arbitrary: fc.tuple(value, value) },
  { weight: 2, arbitrary: fc.tuple(value, value, fc.constant("0"), fc.constant("1")) },
  { weight: 1, arbitrary: fc.array(value, { minLength: 0, maxLength: 10 }) },
  { weight: 1, arbitrary: fc.constantFrom(null, "1,2", { px: "1", sz: "1" }, 7) },
);

/** A side sorted best first from valid levels, then damaged at a few random places (or not at all). */
const side = (desc: boolean) =>
  fc
    .tuple(
      fc.uniqueArray(fc.integer({ min: 1, max: 100_000 }), { minLength: 0, maxLength: 60 }),
      fc.array(fc.tuple(fc.nat(), level), { maxLength: 3 }),
      fc.boolean(),
    )
    .map(([ticks, damage, strings]) => {
      const sorted = [...ticks].sort((a, b) => (desc ? b - a : a - b));
      const raw: unknown[] = sorted.map((t) => (strings ? [(t / 10).toString(), "1.5"] : [t / 10, 1.5]));
      for (const [at, l] of damage) if (raw.length > 0) raw[at % raw.length] = l;
      return raw;
    });

describe("parseBookSide == the previous strict implementation", () => {
  for (const name of ["bids", "asks"] as const) {
    it(`${name}: same levels or the same first error, any keep (random damaged books)`, () => {
      fc.assert(
        fc.property(side(name === "bids"), fc.nat({ max: 70 }), (raw, keep) => {
          expect(parseBookSide(raw, name, keep)).toEqual(reference(raw, name, keep));
          expect(parseBookSide(raw, name)).toEqual(reference(raw, name));
        }),
        { numRuns: 4000 },
      );
    });
    it(`${name}: same on arbitrary level lists (no order bias)`, () => {
      fc.assert(
        fc.property(fc.array(level, { maxLength: 12 }), (raw) => {
          expect(parseBookSide(raw, name)).toEqual(reference(raw, name));
        }),
        { numRuns: 4000 },
      );
    });
  }

  // Vectors at the edges of the combined test: each must give exactly these results.
  const CASES: [string, "bids" | "asks", unknown[], string | [number, number][]][] = [
    ["first bid may be any finite positive price", "bids", [["1e308", "1"]], [[1e308, 1]]],
    ["first ask may be the smallest positive double", "asks", [[5e-324, "1"]], [[5e-324, 1]]],
    ["-0 as the first ask price is not > 0", "asks", [[-0, 1]], "invalid_price orderbook.asks[0][0]"],
    ["-0 as the first bid price is not > 0", "bids", [[-0, 1]], "invalid_price orderbook.bids[0][0]"],
    ["Infinity bid price", "bids", [[Infinity, 1]], "invalid_price orderbook.bids[0][0]"],
    [
      "Infinity ask price after a valid level",
      "asks",
      [
        ["1", "1"],
        [Infinity, 1],
      ],
      "invalid_price orderbook.asks[1][0]",
    ],
    [
      "NaN size after a valid level",
      "bids",
      [
        ["2", "1"],
        ["1", Number.NaN],
      ],
      "invalid_size orderbook.bids[1][1]",
    ],
    [
      "a bad size is reported before the order",
      "asks",
      [
        ["2", "1"],
        ["1", "0"],
      ],
      "invalid_size orderbook.asks[1][1]",
    ],
    [
      "equal prices spelled differently",
      "bids",
      [
        ["2", "1"],
        ["2.0", "1"],
      ],
      "duplicate_price orderbook.bids[1][0]",
    ],
    [
      "unsorted third bid",
      "bids",
      [
        ["3", "1"],
        ["2", "1"],
        ["2.5", "1"],
      ],
      "unsorted_book orderbook.bids[2][0]",
    ],
    ["shape is checked before values", "asks", [["1", "1"], ["x"]], "invalid_level orderbook.asks[1]"],
  ];
  it.each(CASES)("%s", (_name, name, raw, expected) => {
    const r = parseBookSide(raw, name);
    if (typeof expected === "string") {
      expect(Array.isArray(r)).toBe(false);
      const e = r as SimError;
      expect(`${e.code} ${e.path}`).toBe(expected);
    } else {
      expect((r as PriceLevel[]).map((l) => [l.price, l.size])).toEqual(expected);
    }
    expect(r).toEqual(reference(raw, name));
  });
});
