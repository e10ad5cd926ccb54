import fc from "fast-check";
import { Hono } from "hono";
import { beforeEach, describe, expect, it } from "vitest";
import { applyBook, createBook, toOkxLevels, type Book } from "../src/okx/book.js";
import { parseOkxMessage } from "../src/okx/protocol.js";
import { openApiDocument } from "../src/routes/docs.js";
import { simulateRoutes, type SimulateBindings } from "../src/routes/simulate.js";
import { fillMarketOrder } from "../src/sim/fill.js";
import { instrumentCache, type FetchLike } from "../src/sim/instruments.js";
import { SimulateResponseSchema, type SimulateResponse } from "../src/sim/schema.js";
import { parseDecimal, type LiveBook, type LiveBookFn } from "../src/sim/simulate.js";
import { handleInstrumentsRequest, loadInstruments } from "../tools/exchange/instruments.js";
import { DATA, receivedMessages } from "../tools/lib/captures.js";

loadInstruments(DATA.instruments20220513);

/** fetch backed by the local exchange (real OKX instrument answers of 2022-05-13). */
const exchangeFetch: FetchLike = async (input) => {
  const r = handleInstrumentsRequest(new URL(input));
  return r === null
    ? new Response("not found", { status: 404 })
    : new Response(r.body, { status: r.status, headers: { "content-type": "application/json" } });
};
const ENV: SimulateBindings = { OKX_REST_URL: "http://okx.test", SIM_FETCH: exchangeFetch };

const SWAP_SPEC = { instType: "SWAP", ctVal: 0.01, ctMult: 1, ctType: "linear", tickSz: 0.1, lotSz: 1, minSz: 1 };
const BOOK = {
  bids: [
    ["29990", "150", "0", "2"],
    ["29980", "300", "0", "5"],
  ],
  asks: [
    ["30000", "100", "0", "1"],
    ["30010", "200", "0", "3"],
    ["30050", "500", "0", "9"],
  ],
};
const VALID = {
  instId: "BTC-USDT-SWAP",
  side: "buy",
  contracts: 250,
  orderbook: BOOK,
  instrument: SWAP_SPEC,
  feeTier: "Lv1",
};

interface ErrBody {
  error: { code: string; message: string; path?: string };
}

async function post(
  body: unknown,
  opts: { headers?: Record<string, string>; env?: SimulateBindings; raw?: BodyInit } = {},
) {
  const res = await simulateRoutes.request(
    "/simulate/trade",
    {
      method: "POST",
      body: opts.raw ?? JSON.stringify(body),
      headers: opts.headers ?? { "content-type": "application/json" },
    },
    opts.env ?? ENV,
  );
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, json: json as SimulateResponse & ErrBody, contentType: res.headers.get("content-type") };
}

const withBook = (patch: Partial<typeof BOOK>) => ({ ...VALID, orderbook: { ...BOOK, ...patch } });

beforeEach(() => instrumentCache.clear());

describe("POST /simulate/trade: happy path", () => {
  it("linear swap, 250 contracts: hand-computed fill, costs and units; response matches the published schema", async () => {
    const { status, json } = await post({ ...VALID, volatility: { value: 0.5, unit: "annualised" }, latencyMs: 50 });
    expect(status).toBe(200);
    // 100 @ 30000 + 150 @ 30010 contracts of 0.01 BTC: 2.5 BTC, 75015 USDT, VWAP 30006; mid (29990+30000)/2 = 29995.
    expect(json.fill).toMatchObject({
      filledContracts: 250,
      filledBase: 2.5,
      bestPrice: 30000,
      worstPrice: 30010,
      midPrice: 29995,
      levelsConsumed: 2,
      fullyFilled: true,
    });
    expect(json.fill.filledQuote).toBeCloseTo(75015, 8);
    expect(json.fill.avgPrice).toBeCloseTo(30006, 8);
    expect(json.slippage.vsMidQuote).toBeCloseTo(11 * 2.5, 8);
    expect(json.slippage.vsMidBps).toBeCloseTo((11 / 29995) * 1e4, 8);
    expect(json.slippage.vsBestQuote).toBeCloseTo(6 * 2.5, 8);
    expect(json.fee).toMatchObject({ rate: 0.0005, currency: "USDT", tier: "Lv1", verified: true });
    expect(json.fee.amountInFeeCcy).toBeCloseTo(37.5075, 8);
    expect(json.netCost.quote).toBeCloseTo(27.5 + 37.5075, 8);
    expect(json.netCost.settleCcy).toBe("USDT");
    expect(json.takerShare).toBe(1);
    expect(json.book).toMatchObject({ source: "request", bidLevels: 2, askLevels: 3, bookAgeMs: null });
    expect(json.instrument.source).toBe("request");
    expect(json.engineTimeUs).toBeGreaterThanOrEqual(0);
    expect(json.warnings).toEqual([]);
    expect(SimulateResponseSchema.safeParse(json).success).toBe(true);
  });

  it("size in BTC on a swap is converted to contracts (1 BTC = 100 contracts), never treated as 1 contract", async () => {
    const { status, json } = await post({ ...VALID, contracts: undefined, size: 1 });
    expect(status).toBe(200);
    expect(json.order).toMatchObject({ requestedUnit: "base", bookUnit: "contracts", orderBookUnits: 100 });
    expect(json.fill.filledBase).toBe(1);
    expect(json.fill.filledContracts).toBe(100);
  });

  it("inverse swap resolved from OKX REST (BTC-USD-SWAP, 100 USD contracts): fee and net cost in BTC", async () => {
    const { status, json } = await post({
      instId: "BTC-USD-SWAP",
      side: "sell",
      notional: 20000,
      orderbook: BOOK,
      feeTier: "Lv1",
    });
    expect(status).toBe(200);
    expect(json.instrument).toMatchObject({ source: "okx_rest", ctType: "inverse", ctVal: 100, ctValCcy: "USD" });
    // 20000 USD = 200 contracts: 150 @ 29990 + 50 @ 29980.
    const coin = 15000 / 29990 + 5000 / 29980;
    expect(json.fill.filledContracts).toBe(200);
    expect(json.fill.filledQuote).toBe(20000);
    expect(json.fill.filledBase).toBeCloseTo(coin, 12);
    expect(json.fill.avgPrice).toBeCloseTo(20000 / coin, 8);
    expect(json.fee.currency).toBe("BTC");
    expect(json.fee.amountInFeeCcy).toBeCloseTo(0.0005 * coin, 14);
    expect(json.currencies).toEqual({ base: "BTC", quote: "USD", settle: "BTC", fee: "BTC" });
    expect(json.netCost.settleCcy).toBe("BTC");
    expect(json.netCost.inSettleCcy).toBeCloseTo(
      json.slippage.vsMidQuote / json.fill.midPrice + json.fee.amountInFeeCcy,
      14,
    );
    // Second request: the spec comes from the in-memory cache.
    const again = await post({ instId: "BTC-USD-SWAP", side: "sell", notional: 20000, orderbook: BOOK });
    expect(again.json.instrument.source).toBe("cache");
  });

  it("spot resolved from OKX REST: fee in the coin bought", async () => {
    const { status, json } = await post({
      instId: "BTC-USDT",
      side: "buy",
      notional: 1000,
      orderbook: {
        bids: [["29990", "1"]],
        asks: [
          ["30000", "0.01"],
          ["30010", "2"],
        ],
      },
    });
    expect(status).toBe(200);
    expect(json.order.bookUnit).toBe("base");
    expect(json.fill.filledContracts).toBeNull();
    expect(json.fill.filledQuote).toBeLessThanOrEqual(1000);
    expect(json.fee.currency).toBe("BTC");
    expect(json.netCost.inSettleCcy).toBeNull();
  });

  it("accepts numbers as well as strings in levels, and charset in the Content-Type", async () => {
    const { status, json } = await post(
      withBook({
        asks: [
          [30000, 100],
          [30010, 200],
        ] as unknown as string[][],
      }),
      { headers: { "content-type": "application/json; charset=utf-8" } },
    );
    expect(status).toBe(200);
    expect(json.fill.avgPrice).toBeCloseTo(30006, 8);
  });

  it("thin book: partial fill, remainder and fullyFilled=false, with a warning", async () => {
    const { status, json } = await post({ ...VALID, contracts: 1000 });
    expect(status).toBe(200);
    expect(json.fill).toMatchObject({
      fullyFilled: false,
      unfilledInRequestedUnit: 200,
      unfilledBookUnits: 200,
      filledContracts: 800,
      levelsConsumed: 3,
    });
    expect(json.warnings.join(" ")).toMatch(/too thin/);
  });

  it("a converted size is rounded down to lotSz and reported (OKX's own sz would be rejected instead: 51121)", async () => {
    // 0.027 BTC on a 0.01 BTC contract = 2.7 contracts -> 2 (lotSz 1).
    const { json } = await post({ ...VALID, contracts: undefined, size: 0.027 });
    expect(json.order).toMatchObject({ orderBookUnits: 2, lotRoundingApplied: true });
    expect(json.order.targetBookUnits).toBeCloseTo(2.7, 12);
    expect(json.order.lotRoundedOffBookUnits).toBeCloseTo(0.7, 12);
    expect(json.warnings.join(" ")).toMatch(/rounded down to lotSz/);
    const sz = await post({ ...VALID, contracts: 2.7 });
    expect(sz.status).toBe(422);
    expect(sz.json.error).toMatchObject({ code: "lot_size_mismatch", okxCode: "51121", path: "contracts" });
  });

  it("flags a book whose sizes do not fit the spec's lotSz (e.g. a 2022 spec with lotSz 1 for today's 0.01-lot book)", async () => {
    const { status, json } = await post(
      withBook({
        asks: [
          ["30000", "0.2"],
          ["30010", "200"],
        ],
      }),
    );
    expect(status).toBe(200);
    expect(json.warnings.join(" ")).toMatch(/not multiples of lotSz 1/);
  });

  it("bookAgeMs against the server clock when ts is given; stale books are flagged", async () => {
    const fresh = await post(withBook({ ts: String(Date.now() - 1500) } as never));
    expect(fresh.json.book.bookAgeMs).toBeGreaterThanOrEqual(1500);
    expect(fresh.json.book.bookAgeMs).toBeLessThan(1500 + 5000);
    const stale = await post(withBook({ ts: Date.now() - 60_000 } as never));
    expect(stale.json.book.bookAgeMs).toBeGreaterThanOrEqual(60_000);
    expect(stale.json.warnings.join(" ")).toMatch(/ms old/);
  });
});

describe("POST /simulate/trade: live book (orderbook omitted)", () => {
  const liveBook: LiveBook = {
    bids: [{ price: 29990, size: 150 }],
    asks: [
      { price: 30000, size: 100 },
      { price: 30010, size: 200 },
    ],
    ts: Date.now(),
  };

  it("uses an injected live book and says so", async () => {
    const fn: LiveBookFn = async (id) => (id === "BTC-USDT-SWAP" ? liveBook : null);
    const { status, json } = await post({ ...VALID, orderbook: undefined }, { env: { ...ENV, SIM_LIVE_BOOK: fn } });
    expect(status).toBe(200);
    expect(json.book.source).toBe("live");
    expect(json.warnings.join(" ")).toMatch(/live book/);
    expect(json.fill.avgPrice).toBeCloseTo(30006, 8);
  });

  it("works with the relay's Book type, provided as a context variable by the mounting app", async () => {
    const book = createBook("BTC-USDT-SWAP");
    applyBook(book, "snapshot", {
      ts: String(Date.now()),
      bids: [["29990", "150", "0", "1"]],
      asks: [
        ["30000", "100", "0", "1"],
        ["30010", "200", "0", "1"],
      ],
    });
    const parent = new Hono<{ Variables: { liveBook: LiveBookFn } }>();
    parent.use("*", async (c, next) => {
      c.set("liveBook", async () => book);
      await next();
    });
    parent.route("/", simulateRoutes);
    const res = await parent.request(
      "/simulate/trade",
      {
        method: "POST",
        body: JSON.stringify({ ...VALID, orderbook: undefined }),
        headers: { "content-type": "application/json" },
      },
      ENV,
    );
    expect(res.status).toBe(200);
    const json = (await res.json()) as SimulateResponse;
    expect(json.book.source).toBe("live");
    expect(json.fill.filledContracts).toBe(250);
  });

  it.each<[string, SimulateBindings]>([
    ["no live-book source configured", ENV],
    ["the provider has no book for the instrument", { ...ENV, SIM_LIVE_BOOK: async () => null }],
    [
      "the provider throws",
      {
        ...ENV,
        SIM_LIVE_BOOK: async () => {
          throw new Error("DO unreachable");
        },
      },
    ],
    [
      "the live book is inconsistent",
      {
        ...ENV,
        SIM_LIVE_BOOK: async () => ({
          ...liveBook,
          asks: [
            { price: 30010, size: 1 },
            { price: 30000, size: 1 },
          ],
        }),
      },
    ],
  ])("503 when %s", async (_name, env) => {
    const { status, json } = await post({ ...VALID, orderbook: undefined }, { env });
    expect(status).toBe(503);
    expect(json.error).toMatchObject({ code: "live_book_unavailable", path: "orderbook" });
    expect(json.error.message).toMatch(/orderbook/);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Every bad-input class -> 4xx { error: { code, message, path } }
// ---------------------------------------------------------------------------------------------------------------

const manyLevels = (n: number, start: number, step: number) =>
  Array.from({ length: n }, (_, i) => [String(start + i * step), "1"]);

const BAD: [name: string, body: unknown, status: number, code: string, path: string | undefined][] = [
  ["crossed book (best bid > best ask)", withBook({ bids: [["30001", "1"]] }), 400, "crossed_book", "orderbook"],
  ["locked book (best bid = best ask)", withBook({ bids: [["30000", "1"]] }), 400, "crossed_book", "orderbook"],
  [
    "unsorted bids",
    withBook({
      bids: [
        ["29980", "1"],
        ["29990", "1"],
      ],
    }),
    400,
    "unsorted_book",
    "orderbook.bids[1][0]",
  ],
  [
    "unsorted asks",
    withBook({
      asks: [
        ["30010", "1"],
        ["30000", "1"],
      ],
    }),
    400,
    "unsorted_book",
    "orderbook.asks[1][0]",
  ],
  [
    "duplicate price",
    withBook({
      asks: [
        ["30000", "1"],
        ["30000", "2"],
      ],
    }),
    400,
    "duplicate_price",
    "orderbook.asks[1][0]",
  ],
  ["NaN price", withBook({ asks: [["NaN", "1"]] }), 400, "invalid_price", "orderbook.asks[0][0]"],
  ["Infinity price", withBook({ asks: [["Infinity", "1"]] }), 400, "invalid_price", "orderbook.asks[0][0]"],
  ["overflowing price 1e400", withBook({ asks: [["1e400", "1"]] }), 400, "invalid_price", "orderbook.asks[0][0]"],
  ["negative price", withBook({ asks: [["-30000", "1"]] }), 400, "invalid_price", "orderbook.asks[0][0]"],
  ["zero price", withBook({ bids: [["0", "1"]] }), 400, "invalid_price", "orderbook.bids[0][0]"],
  [
    "negative numeric price",
    withBook({ bids: [[-1, 1]] as unknown as string[][] }),
    400,
    "invalid_price",
    "orderbook.bids[0][0]",
  ],
  ["empty-string price", withBook({ asks: [["", "1"]] }), 400, "invalid_price", "orderbook.asks[0][0]"],
  ["padded price", withBook({ asks: [[" 30000", "1"]] }), 400, "invalid_price", "orderbook.asks[0][0]"],
  ["hex price", withBook({ asks: [["0x10", "1"]] }), 400, "invalid_price", "orderbook.asks[0][0]"],
  ["NaN size", withBook({ asks: [["30000", "NaN"]] }), 400, "invalid_size", "orderbook.asks[0][1]"],
  ["zero size", withBook({ asks: [["30000", "0"]] }), 400, "invalid_size", "orderbook.asks[0][1]"],
  ["negative size", withBook({ bids: [["29990", "-5"]] }), 400, "invalid_size", "orderbook.bids[0][1]"],
  ["Infinity size", withBook({ bids: [["29990", "Infinity"]] }), 400, "invalid_size", "orderbook.bids[0][1]"],
  [
    "null level value",
    withBook({ asks: [[null, "1"]] as unknown as string[][] }),
    400,
    "invalid_price",
    "orderbook.asks[0][0]",
  ],
  [
    "boolean size",
    withBook({ asks: [["30000", true]] as unknown as string[][] }),
    400,
    "invalid_size",
    "orderbook.asks[0][1]",
  ],
  ["level with one element", withBook({ asks: [["30000"]] }), 400, "invalid_level", "orderbook.asks[0]"],
  [
    "level that is not an array",
    withBook({ asks: [{ px: "30000", sz: "1" }] as unknown as string[][] }),
    400,
    "invalid_level",
    "orderbook.asks[0]",
  ],
  [
    "sides that are not arrays",
    withBook({ asks: "30000:1" as unknown as string[][] }),
    400,
    "invalid_request",
    "orderbook.asks",
  ],
  ["more than 5000 levels", withBook({ asks: manyLevels(5001, 30000, 0.1) }), 400, "invalid_request", "orderbook.asks"],
  ["empty asks", withBook({ asks: [] }), 422, "empty_book_side", "orderbook.asks"],
  ["ts in seconds, not ms", withBook({ ts: 1723161256 } as never), 400, "invalid_ts", "orderbook.ts"],
  [
    "size below minSz",
    { ...VALID, contracts: 0.5, instrument: { ...SWAP_SPEC, lotSz: 0.1, minSz: 1 } },
    422,
    "below_min_size",
    "contracts",
  ],
  [
    "contracts not a multiple of lotSz (OKX 51121)",
    { ...VALID, contracts: 0.5 },
    422,
    "lot_size_mismatch",
    "contracts",
  ],
  ["converted size below one lot", { ...VALID, contracts: undefined, size: 0.005 }, 422, "below_lot_size", "size"],
  [
    "spot size below minSz",
    { instId: "BTC-USDT", side: "sell", size: 0.000001, orderbook: BOOK },
    422,
    "below_min_size",
    "size",
  ],
  ["zero size", { ...VALID, contracts: 0 }, 400, "invalid_request", "contracts"],
  ["negative size", { ...VALID, contracts: -3 }, 400, "invalid_request", "contracts"],
  ["size as a string", { ...VALID, contracts: "250" }, 400, "invalid_request", "contracts"],
  ["no size at all", { ...VALID, contracts: undefined }, 400, "invalid_request", undefined],
  ["two sizes", { ...VALID, size: 1 }, 400, "invalid_request", "contracts"],
  [
    "contracts on spot",
    { instId: "BTC-USDT", side: "buy", contracts: 1, orderbook: BOOK },
    400,
    "unit_not_applicable",
    "contracts",
  ],
  [
    "unknown instrument and no spec (OKX says 51001)",
    { ...VALID, instId: "NOPE-USDT-SWAP", instrument: undefined },
    422,
    "unknown_instrument",
    "instId",
  ],
  ["instId that is not an OKX id", { ...VALID, instId: "btc usdt" }, 400, "invalid_request", "instId"],
  [
    "options are not simulated",
    { ...VALID, instId: "BTC-USD-220514-22000-C", instrument: undefined },
    422,
    "unsupported_instrument",
    "instId",
  ],
  [
    "derivative spec without ctVal",
    { ...VALID, instrument: { ...SWAP_SPEC, ctVal: undefined } },
    400,
    "invalid_instrument",
    "instrument.ctVal",
  ],
  [
    "spec type contradicts the instId",
    { ...VALID, instrument: { ...SWAP_SPEC, instType: "SPOT", ctType: undefined, ctVal: undefined } },
    400,
    "instrument_mismatch",
    "instrument.instType",
  ],
  [
    "negative lotSz",
    { ...VALID, instrument: { ...SWAP_SPEC, lotSz: -1 } },
    400,
    "invalid_instrument",
    "instrument.lotSz",
  ],
  [
    "lotSz that is not a decimal",
    { ...VALID, instrument: { ...SWAP_SPEC, lotSz: "one" } },
    400,
    "invalid_instrument",
    "instrument.lotSz",
  ],
  ["ts in microseconds", withBook({ ts: "1723161256509000" } as never), 400, "invalid_ts", "orderbook.ts"],
  [
    "book instId of another instrument",
    withBook({ instId: "ETH-USDT-SWAP" } as never),
    400,
    "instrument_mismatch",
    "orderbook.instId",
  ],
  ["px on a market order", { ...VALID, px: 30000 }, 400, "invalid_request", "px"],
  ["ioc without px", { ...VALID, ordType: "ioc" }, 400, "invalid_request", "px"],
  [
    "unknown non-OKX field in instrument",
    { ...VALID, instrument: { ...SWAP_SPEC, tickSize: "0.1" } },
    400,
    "invalid_request",
    "instrument.tickSize",
  ],
  [
    "too many curve sizes",
    { ...VALID, sizes: Array.from({ length: 65 }, (_, i) => i + 1) },
    400,
    "invalid_request",
    "sizes",
  ],
  ["feeTier and takerFeeRate together", { ...VALID, takerFeeRate: 0.0005 }, 400, "invalid_request", "takerFeeRate"],
  [
    "takerFeeRate in percent by mistake",
    { ...VALID, feeTier: undefined, takerFeeRate: 0.05 },
    400,
    "invalid_request",
    "takerFeeRate",
  ],
  ["unknown fee tier", { ...VALID, feeTier: "VIP9" }, 400, "invalid_request", "feeTier"],
  ["volatility without unit", { ...VALID, volatility: { value: 0.5 } }, 400, "invalid_request", "volatility.unit"],
  ["unknown field", { ...VALID, quantity: 5 }, 400, "invalid_request", "quantity"],
  ["bad side", { ...VALID, side: "long" }, 400, "invalid_request", "side"],
];

describe("POST /simulate/trade: bad input -> 4xx with the project's error shape", () => {
  it.each(BAD)("%s", async (_name, body, status, code, path) => {
    const r = await post(body);
    expect(r.status).toBe(status);
    expect(r.contentType).toMatch(/application\/json/);
    expect(r.json.error.code).toBe(code);
    expect(r.json.error.path).toBe(path);
    expect(r.json.error.message.length).toBeGreaterThan(10);
  });

  it("instrument look-up failing (network) -> 424 telling how to skip it", async () => {
    const env = {
      ...ENV,
      SIM_FETCH: async () => {
        throw new TypeError("fetch failed");
      },
    };
    const r = await post({ ...VALID, instrument: undefined }, { env });
    expect(r.status).toBe(424);
    expect(r.json.error.code).toBe("instrument_lookup_failed");
    expect(r.json.error.message).toMatch(/instrument/);
  });

  it.each([
    ["not JSON", "{bad json", "invalid_json"],
    ["empty body", "", "invalid_json"],
    ["a JSON array", "[1,2]", "invalid_json"],
    ["JSON null", "null", "invalid_json"],
    [
      "a number that overflows to Infinity",
      JSON.stringify(VALID).replace('"contracts":250', '"contracts":1e999'),
      "invalid_request",
    ],
  ])("%s -> 400 %s", async (_n, raw, code) => {
    const r = await post(undefined, { raw });
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe(code);
  });

  it.each([
    ["text/plain", { "content-type": "text/plain" }],
    ["form encoding", { "content-type": "application/x-www-form-urlencoded" }],
    ["no Content-Type", {}],
  ])("Content-Type %s -> 415", async (_n, headers) => {
    const r = await post(VALID, { headers: headers as Record<string, string> });
    expect(r.status).toBe(415);
    expect(r.json.error.code).toBe("unsupported_media_type");
  });

  it("body over 1 MiB -> 413 (streamed, no Content-Length)", async () => {
    const big = JSON.stringify({ ...VALID, pad: "x".repeat(1024 * 1024) });
    const r = await post(undefined, { raw: big });
    expect(r.status).toBe(413);
    expect(r.json.error.code).toBe("body_too_large");
  });

  it("body over 1 MiB -> 413 (declared Content-Length, rejected before reading)", async () => {
    const big = JSON.stringify({ ...VALID, pad: "x".repeat(1024 * 1024) });
    const stream = new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode(big));
        c.close();
      },
    });
    const req = new Request("http://x/simulate/trade", {
      method: "POST",
      body: stream,
      headers: { "content-type": "application/json", "content-length": String(big.length) },
      duplex: "half",
    } as RequestInit);
    const res = await simulateRoutes.request(req, undefined, ENV);
    expect(res.status).toBe(413);
  });

  it("a 5000-level book (the maximum) is accepted", async () => {
    const r = await post(withBook({ asks: manyLevels(5000, 30000, 0.1), bids: manyLevels(5000, 29999.9, -0.0001) }));
    expect(r.status).toBe(200);
    expect(r.json.book.askLevels).toBe(5000);
  });

  it("never a 500: fuzzed bodies always get a 2xx/4xx/503 with a JSON body", async () => {
    const keys = [
      "instId",
      "side",
      "size",
      "contracts",
      "notional",
      "orderbook",
      "instrument",
      "feeTier",
      "takerFeeRate",
      "volatility",
      "latencyMs",
      "adv24hBase",
      "sqrtImpactY",
    ];
    const mutation = fc.record({
      key: fc.constantFrom(
        ...keys,
        "orderbook.bids",
        "orderbook.asks",
        "orderbook.ts",
        "instrument.lotSz",
        "instrument.ctType",
      ),
      value: fc.oneof(
        fc.jsonValue(),
        fc.constant(undefined),
        fc.array(fc.tuple(fc.oneof(fc.string(), fc.double()), fc.oneof(fc.string(), fc.double())), { maxLength: 5 }),
      ),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 3 }), async (muts) => {
        const body = structuredClone(VALID) as Record<string, unknown>;
        for (const { key, value } of muts) {
          const [a, b] = key.split(".");
          if (b === undefined) body[a!] = value;
          else body[a!] = { ...((body[a!] as object) ?? {}), [b]: value };
        }
        const r = await post(body);
        expect(r.status).not.toBe(500);
        expect([200, 400, 413, 415, 422, 424, 503]).toContain(r.status);
        if (r.status !== 200) expect(typeof r.json.error?.code).toBe("string");
      }),
      { numRuns: 300 },
    );
  });
});

describe("real captured books through the route", () => {
  function lastBook(path: string, instId: string, upTo = Infinity): Book {
    const book = createBook(instId);
    let n = 0;
    for (const { json } of receivedMessages(path)) {
      const m = parseOkxMessage(json);
      if (m.kind !== "books" || m.arg.instId !== instId) continue;
      if (n++ >= upTo) break;
      const r = applyBook(book, m.action, m.data);
      if (!r.ok) throw new Error(r.detail);
    }
    return book;
  }

  it("BTC-USDT-SWAP 400-level book as OKX sends it: the route agrees with the pure engine", async () => {
    const book = lastBook(DATA.btcSwap, "BTC-USDT-SWAP", 3000);
    const orderbook = { ts: String(book.ts), bids: toOkxLevels(book.bids), asks: toOkxLevels(book.asks) };
    expect(orderbook.asks.length).toBeGreaterThan(300);
    const spec = { ...SWAP_SPEC, lotSz: 0.01, minSz: 0.01 };
    for (const contracts of [1, 250, 5000]) {
      for (const side of ["buy", "sell"] as const) {
        const { status, json } = await post({ instId: "BTC-USDT-SWAP", side, contracts, orderbook, instrument: spec });
        expect(status).toBe(200);
        const ref = fillMarketOrder(
          side === "buy" ? book.asks : book.bids,
          { instType: "SWAP", ctType: "linear", ctVal: 0.01, ctMult: 1, lotSz: 0.01, minSz: 0.01 },
          "contracts",
          contracts,
        );
        if (!ref.ok) throw new Error(ref.message);
        expect(json.fill.filledQuote).toBe(ref.filledQuote);
        expect(json.fill.avgPrice).toBe(ref.avgPrice);
        expect(json.fill.levelsConsumed).toBe(ref.levelsConsumed);
        expect(json.book.midPrice).toBe((book.bids[0]!.price + book.asks[0]!.price) / 2);
        expect(json.slippage.vsMidBps).toBeGreaterThan(0);
        expect(json.book.bookAgeMs).toBeGreaterThan(0); // a 2024 book, aged against today's clock
      }
    }
  });

  it("UNI-USD-SWAP (real inverse book) with its spec from the real instruments capture", async () => {
    const book = lastBook(DATA.okx20220513, "UNI-USD-SWAP");
    const orderbook = { bids: toOkxLevels(book.bids), asks: toOkxLevels(book.asks) };
    const { status, json } = await post({
      instId: "UNI-USD-SWAP",
      side: "buy",
      contracts: 500,
      orderbook,
      feeTier: "Lv1",
    });
    expect(status).toBe(200);
    expect(json.instrument).toMatchObject({ source: "okx_rest", ctType: "inverse", ctVal: 10, tickSz: 0.001 });
    expect(json.fill.filledQuote).toBe(5000); // 500 contracts * 10 USD
    expect(json.fee.currency).toBe("UNI");
    expect(json.fill.avgPrice).toBeGreaterThanOrEqual(json.fill.bestPrice);
    expect(json.fill.avgPrice).toBeLessThanOrEqual(json.fill.worstPrice);
    expect(json.warnings.join(" ")).not.toMatch(/tickSz/);
    expect(SimulateResponseSchema.safeParse(json).success).toBe(true);
  });
});

describe("parseDecimal (fast path for OKX decimal strings)", () => {
  it("is bit-identical to Number() for plain decimals", () => {
    fc.assert(
      fc.property(fc.stringMatching(/^\d{1,12}(\.\d{1,10})?$/), (s) => {
        expect(Object.is(parseDecimal(s), Number(s))).toBe(true);
      }),
      { numRuns: 5000 },
    );
    fc.assert(
      fc.property(fc.double({ min: 1e-9, max: 1e9, noNaN: true }), (x) => {
        const s = String(x);
        expect(parseDecimal(s)).toBe(Number(s));
      }),
      { numRuns: 5000 },
    );
  });

  it.each(["61800.3", "0.00000001", "1e-8", "2.5E3", "1.", ".5", "0", "12345678901234567890", "0.1234567890123456789"])(
    "%s",
    (s) => {
      expect(parseDecimal(s)).toBe(Number(s));
    },
  );

  it.each(["", " 1", "1 ", "0x10", "0b1", "NaN", "Infinity", "-1", "+1", "1..2", ".", "1e", "abc", "1,5"])(
    "rejects %j",
    (s) => {
      expect(parseDecimal(s)).toBeNaN();
    },
  );
});

describe("docs", () => {
  it("GET /openapi.json is generated from the same schemas", async () => {
    const doc = JSON.parse(JSON.stringify(openApiDocument("http://x"))) as {
      paths: Record<string, { post?: { responses: Record<string, unknown> } }>;
      components: { schemas: Record<string, unknown> };
    };
    const op = doc.paths["/simulate/trade"]!.post!;
    expect(Object.keys(op.responses).sort()).toEqual(["200", "400", "413", "415", "422", "424", "429", "503"]);
    expect(doc.components.schemas).toHaveProperty("SimulateTradeRequest");
    expect(doc.components.schemas).toHaveProperty("SimulateTradeResponse");
    expect(JSON.stringify(doc)).toMatch(/contracts for SWAP\/FUTURES/);
  });
});
