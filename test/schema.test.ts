/**
 * Request-book parsing and validation (`parseDecimal`, `parseBookSide` in src/sim/simulate.ts): the contract the
 * zod request schema leaves to them. Table-driven against the behaviour the endpoint has always had, plus a
 * property test against the reference definition (DECIMAL_RE + Number()), so a faster parser cannot drift.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseBookSide, parseDecimal, type SimError } from "../src/sim/simulate.js";

/** The documented contract: a plain decimal (optional exponent) of at most 40 characters, valued as Number() does. */
const REFERENCE_RE = /^(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const reference = (s: string) => (s.length <= 40 && REFERENCE_RE.test(s) ? Number(s) : NaN);

describe("parseDecimal", () => {
  const ACCEPTED: [input: string, value: number][] = [
    ["61800.3", 61800.3],
    ["107.2", 107.2],
    ["0", 0],
    ["00", 0],
    ["0.0", 0],
    ["0.000", 0],
    ["000123.40", 123.4],
    ["1.", 1],
    [".5", 0.5],
    ["0.00000001", 1e-8],
    ["1e5", 100000],
    ["1e-8", 1e-8],
    ["2.5E3", 2500],
    ["1E+2", 100],
    ["1.e5", 100000],
    ["1e0", 1],
    ["0e0", 0],
    ["1e400", Infinity], // a decimal, but not finite: parseBookSide rejects it
    ["1e-400", 0], // underflows to 0: parseBookSide rejects it as not > 0
    ["5e-324", 5e-324],
    ["2e-324", 0],
    ["123456789012345", 123456789012345], // 15 digits: exact integer
    ["1234567890123456", 1234567890123456], // 16 digits
    ["9007199254740993", 9007199254740992], // 2^53 + 1 rounds to even, as Number() does
    ["12345678901234.5", 12345678901234.5],
    ["123456789012345.6", 123456789012345.6],
    ["0.1234567890123456", 0.1234567890123456],
    ["0.1234567890123456789", 0.12345678901234568],
    ["12345678901234567890", 12345678901234567000],
    ["1".repeat(40), Number("1".repeat(40))], // 40 characters: the longest accepted
    ["0." + "0".repeat(37) + "1", 1e-38],
  ];
  it.each(ACCEPTED)("%j -> %d (same as Number())", (s, v) => {
    expect(parseDecimal(s)).toBe(v);
    expect(Object.is(parseDecimal(s), Number(s))).toBe(true);
  });

  const REJECTED = [
    "",
    " 1",
    "1 ",
    "\t1",
    "1\n",
    "0x10",
    "0b1",
    "0o7",
    "NaN",
    "Infinity",
    "-1",
    "-0",
    "+1",
    "+0",
    "-",
    ".",
    "..5",
    "1..2",
    "1.5.",
    "1e",
    "1e+",
    ".e1",
    "e1",
    "1e5.5",
    "1,5",
    "1_000",
    "1/2",
    "abc",
    "null",
    "true",
    "\u0663", // ARABIC-INDIC DIGIT THREE
    "\uff11", // FULLWIDTH DIGIT ONE
    "1".repeat(41), // longer than 40 characters
    "0." + "0".repeat(38) + "1",
    "1".repeat(10_000),
  ];
  it.each(REJECTED.map((s) => [s.length > 50 ? `${s.slice(0, 20)}... (${s.length} chars)` : s, s]))(
    "rejects %j",
    (_label, s) => {
      expect(parseDecimal(s)).toBeNaN();
    },
  );

  it("matches the reference definition on arbitrary strings over the decimal alphabet", () => {
    const chars = fc.constantFrom(..."0123456789012345678901234567890123456789..eE+- x");
    fc.assert(
      fc.property(fc.string({ unit: chars, maxLength: 45 }), (s) => {
        expect(Object.is(parseDecimal(s), reference(s))).toBe(true);
      }),
      { numRuns: 20_000 },
    );
  });

  it("is bit-identical to Number() for plain decimals up to 17 significant digits", () => {
    fc.assert(
      fc.property(fc.stringMatching(/^\d{1,17}(\.\d{1,17})?$/), (s) => {
        expect(Object.is(parseDecimal(s), Number(s))).toBe(true);
      }),
      { numRuns: 20_000 },
    );
  });
});

type Expected = { levels: [number, number][] } | { code: string; path: string; message: string };

const ok = (...levels: [number, number][]): Expected => ({ levels });
const err = (code: string, path: string, message: string): Expected => ({ code, path, message });

/** 400 valid ascending levels ("30000.1", "30000.2", ...) with `bad` put at index 399. */
const deep = (bad: unknown): unknown[] => {
  const ls: unknown[] = Array.from({ length: 400 }, (_, i) => [(30000 + (i + 1) / 10).toFixed(1), "1.5"]);
  ls[399] = bad;
  return ls;
};

const LEVEL_MSG = "a level is [price, size, ...] with 2 to 8 elements (OKX format), got";
const PRICE_MSG = "price must be a finite decimal > 0 (string or number), got";
const SIZE_MSG = "size must be a finite decimal > 0 (book units: contracts for derivatives, base for spot), got";

describe("parseBookSide", () => {
  const CASES: [name: string, raw: unknown[], side: "bids" | "asks", expected: Expected][] = [
    ["empty side (the caller reports it)", [], "asks", ok()],
    [
      "OKX string levels with extra fields",
      [
        ["61800.3", "107.2", "0", "1"],
        ["61800.7", "0.2", "0", "1"],
      ],
      "asks",
      ok([61800.3, 107.2], [61800.7, 0.2]),
    ],
    [
      "JSON numbers and strings mixed",
      [
        [3, "4"],
        ["1.5", 2],
      ],
      "bids",
      ok([3, 4], [1.5, 2]),
    ],
    ["exponent notation", [["1e3", "2.5E-1"]], "asks", ok([1000, 0.25])],
    ["8 elements is the most", [["1", "1", "0", "1", "a", "b", "c", "d"]], "asks", ok([1, 1])],
    [
      "9 elements",
      [["1", "1", "0", "1", "a", "b", "c", "d", "e"]],
      "asks",
      err("invalid_level", "orderbook.asks[0]", `${LEVEL_MSG} ["1","1","0","1","a","b","c","d","e"]`),
    ],
    ["1 element", [["30000"]], "asks", err("invalid_level", "orderbook.asks[0]", `${LEVEL_MSG} ["30000"]`)],
    ["null level", [null], "bids", err("invalid_level", "orderbook.bids[0]", `${LEVEL_MSG} null`)],
    ["undefined level", [undefined], "bids", err("invalid_level", "orderbook.bids[0]", `${LEVEL_MSG} undefined`)],
    ["string level", ["1,2"], "asks", err("invalid_level", "orderbook.asks[0]", `${LEVEL_MSG} "1,2"`)],
    [
      "object level",
      [{ px: "30000", sz: "1" }],
      "asks",
      err("invalid_level", "orderbook.asks[0]", `${LEVEL_MSG} {"px":"30000","sz":"1"}`),
    ],
    ["extra fields are not looked at", [["1", "1", null, {}, "a".repeat(100)]], "asks", ok([1, 1])],
    [
      "a long bad level is cut to 60 characters in the message",
      [["1".repeat(100)]],
      "asks",
      err("invalid_level", "orderbook.asks[0]", `${LEVEL_MSG} ["${"1".repeat(58)}`),
    ],
    ["NaN string price", [["NaN", "1"]], "asks", err("invalid_price", "orderbook.asks[0][0]", `${PRICE_MSG} "NaN"`)],
    [
      "Infinity string price",
      [["Infinity", "1"]],
      "asks",
      err("invalid_price", "orderbook.asks[0][0]", `${PRICE_MSG} "Infinity"`),
    ],
    [
      "overflowing price",
      [["1e400", "1"]],
      "asks",
      err("invalid_price", "orderbook.asks[0][0]", `${PRICE_MSG} "1e400"`),
    ],
    [
      "underflowing price",
      [["1e-400", "1"]],
      "asks",
      err("invalid_price", "orderbook.asks[0][0]", `${PRICE_MSG} "1e-400"`),
    ],
    ["zero price", [["0", "1"]], "bids", err("invalid_price", "orderbook.bids[0][0]", `${PRICE_MSG} "0"`)],
    ["-0 string price", [["-0", "1"]], "bids", err("invalid_price", "orderbook.bids[0][0]", `${PRICE_MSG} "-0"`)],
    ["-0 number price", [[-0, 1]], "bids", err("invalid_price", "orderbook.bids[0][0]", `${PRICE_MSG} 0`)],
    ["negative number price", [[-1, 1]], "bids", err("invalid_price", "orderbook.bids[0][0]", `${PRICE_MSG} -1`)],
    ["NaN number price", [[NaN, 1]], "asks", err("invalid_price", "orderbook.asks[0][0]", `${PRICE_MSG} null`)],
    ["empty price", [["", "1"]], "asks", err("invalid_price", "orderbook.asks[0][0]", `${PRICE_MSG} ""`)],
    ["padded price", [[" 30000", "1"]], "asks", err("invalid_price", "orderbook.asks[0][0]", `${PRICE_MSG} " 30000"`)],
    ["hex price", [["0x10", "1"]], "asks", err("invalid_price", "orderbook.asks[0][0]", `${PRICE_MSG} "0x10"`)],
    ["null price", [[null, "1"]], "asks", err("invalid_price", "orderbook.asks[0][0]", `${PRICE_MSG} null`)],
    [
      "undefined price",
      [[undefined, "1"]],
      "asks",
      err("invalid_price", "orderbook.asks[0][0]", `${PRICE_MSG} undefined`),
    ],
    ["object price", [[{}, "1"]], "asks", err("invalid_price", "orderbook.asks[0][0]", `${PRICE_MSG} {}`)],
    [
      "bad price is reported before a bad size",
      [["x", "y"]],
      "asks",
      err("invalid_price", "orderbook.asks[0][0]", `${PRICE_MSG} "x"`),
    ],
    ["zero size", [["30000", "0"]], "asks", err("invalid_size", "orderbook.asks[0][1]", `${SIZE_MSG} "0"`)],
    ["negative size", [["29990", "-5"]], "bids", err("invalid_size", "orderbook.bids[0][1]", `${SIZE_MSG} "-5"`)],
    ["Infinity number size", [[1, Infinity]], "asks", err("invalid_size", "orderbook.asks[0][1]", `${SIZE_MSG} null`)],
    ["boolean size", [["30000", true]], "asks", err("invalid_size", "orderbook.asks[0][1]", `${SIZE_MSG} true`)],
    [
      "too long size string",
      [["30000", "1".repeat(41)]],
      "asks",
      err("invalid_size", "orderbook.asks[0][1]", `${SIZE_MSG} "${"1".repeat(41)}"`),
    ],
    [
      "duplicate price, different spelling",
      [
        ["1", "1"],
        ["1.0", "2"],
      ],
      "asks",
      err("duplicate_price", "orderbook.asks[1][0]", "price 1.0 appears twice in asks; merge the levels"),
    ],
    [
      "duplicate bid",
      [
        ["2", "1"],
        [2, "2"],
      ],
      "bids",
      err("duplicate_price", "orderbook.bids[1][0]", "price 2 appears twice in bids; merge the levels"),
    ],
    [
      "unsorted asks",
      [
        ["1", "1"],
        ["0.5", "2"],
      ],
      "asks",
      err(
        "unsorted_book",
        "orderbook.asks[1][0]",
        "asks must be sorted best first (ascending price): asks[1] 0.5 comes after 1",
      ),
    ],
    [
      "unsorted bids",
      [
        ["1.5", "2"],
        [3, 4],
      ],
      "bids",
      err(
        "unsorted_book",
        "orderbook.bids[1][0]",
        "bids must be sorted best first (descending price): bids[1] 3 comes after 1.5",
      ),
    ],
    [
      "descending asks are bids",
      [
        ["1", "1"],
        ["0.5", "2"],
      ],
      "bids",
      ok([1, 1], [0.5, 2]),
    ],
    [
      "unsorted with exponent",
      [
        ["1e3", "1"],
        ["999.9", "1"],
      ],
      "asks",
      err(
        "unsorted_book",
        "orderbook.asks[1][0]",
        "asks must be sorted best first (ascending price): asks[1] 999.9 comes after 1000",
      ),
    ],
    [
      "bad level deep in the book",
      deep(["30040", "1", "0", "1", "x", "x", "x", "x", "x"]),
      "asks",
      err("invalid_level", "orderbook.asks[399]", `${LEVEL_MSG} ["30040","1","0","1","x","x","x","x","x"]`),
    ],
    [
      "bad price deep in the book",
      deep(["30040.O", "1"]),
      "asks",
      err("invalid_price", "orderbook.asks[399][0]", `${PRICE_MSG} "30040.O"`),
    ],
    [
      "bad size deep in the book",
      deep(["30040", "1e"]),
      "asks",
      err("invalid_size", "orderbook.asks[399][1]", `${SIZE_MSG} "1e"`),
    ],
    [
      "duplicate deep in the book",
      deep(["30039.9", "1"]),
      "asks",
      err("duplicate_price", "orderbook.asks[399][0]", "price 30039.9 appears twice in asks; merge the levels"),
    ],
    [
      "unsorted deep in the book",
      deep(["30039.8", "1"]),
      "asks",
      err(
        "unsorted_book",
        "orderbook.asks[399][0]",
        "asks must be sorted best first (ascending price): asks[399] 30039.8 comes after 30039.9",
      ),
    ],
  ];

  it.each(CASES)("%s", (_name, raw, side, expected) => {
    const r = parseBookSide(raw, side);
    if ("levels" in expected) {
      expect(Array.isArray(r)).toBe(true);
      expect((r as { price: number; size: number }[]).map((l) => [l.price, l.size])).toEqual(expected.levels);
    } else {
      expect(r).toEqual({ status: 400, ...expected } as SimError);
    }
  });

  it("a valid deep book parses every level exactly as Number() would", () => {
    const raw = deep(["30040", "0.01"]) as [string, string][];
    const r = parseBookSide(raw, "asks") as { price: number; size: number }[];
    expect(r.length).toBe(400);
    for (const [i, l] of r.entries()) expect([l.price, l.size]).toEqual([Number(raw[i]![0]), Number(raw[i]![1])]);
  });
});
