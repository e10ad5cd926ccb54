/**
 * Simulator v2 through the route: OKX's own JSON accepted verbatim, OKX's market-order rules answered with OKX's
 * sCodes, ioc/fok, depthTruncated, per-level fills, cost curve, every problem listed. Hand-computed vectors on a
 * small book, real OKX records and pushes from the bundled captures.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { applyBook, createBook } from "../src/okx/book.js";
import { parseOkxMessage } from "../src/okx/protocol.js";
import { simulateRoutes, type SimulateBindings } from "../src/routes/simulate.js";
import { createBookHistory, latencyCostDistribution } from "../src/sim/history.js";
import { clearPriceLimitCache, instrumentCache, type FetchLike } from "../src/sim/instruments.js";
import { SimulateResponseSchema, type SimulateResponse } from "../src/sim/schema.js";
import type { LiveBookFn } from "../src/sim/simulate.js";
import { handleInstrumentsRequest, loadInstruments } from "../tools/exchange/instruments.js";
import { DATA, receivedMessages } from "../tools/lib/captures.js";

loadInstruments(DATA.instruments20220513);

/** The REST record exactly as OKX returned it on 2022-05-13. */
function okxRecord(instType: string, instId: string): Record<string, string> {
  const r = handleInstrumentsRequest(
    new URL(`http://x/api/v5/public/instruments?instType=${instType}&instId=${instId}`),
  )!;
  return (JSON.parse(r.body) as { data: Record<string, string>[] }).data[0]!;
}

/** Local-exchange REST plus a price-limit answer (OKX docs-v5 shape) for BTC-USD-SWAP. */
const exchangeFetch: FetchLike = async (input) => {
  const url = new URL(input);
  if (url.pathname === "/api/v5/public/price-limit") {
    const body =
      url.searchParams.get("instId") === "BTC-USD-SWAP"
        ? {
            code: "0",
            msg: "",
            data: [
              {
                instType: "SWAP",
                instId: "BTC-USD-SWAP",
                buyLmt: "30500",
                sellLmt: "29985",
                ts: "1652400000000",
                enabled: true,
              },
            ],
          }
        : { code: "51001", msg: "Instrument ID does not exist", data: [] };
    return Response.json(body);
  }
  const r = handleInstrumentsRequest(url);
  return r === null
    ? new Response("not found", { status: 404 })
    : new Response(r.body, { status: r.status, headers: { "content-type": "application/json" } });
};
const ENV: SimulateBindings = { OKX_REST_URL: "http://okx.test", SIM_FETCH: exchangeFetch };

const SWAP_SPEC = { instType: "SWAP", ctVal: 0.01, ctMult: 1, ctType: "linear", tickSz: 0.1, lotSz: 1, minSz: 1 };
const BOOK = {
  bids: [
    ["29990", "150"],
    ["29980", "300"],
  ],
  asks: [
    ["30000", "100"],
    ["30010", "200"],
    ["30050", "500"],
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
const SPOT_BOOK = {
  bids: [["29990", "1"]],
  asks: [
    ["30000", "0.1"],
    ["30010", "2"],
  ],
};

interface ErrBody {
  error: {
    code: string;
    message: string;
    path?: string;
    okxCode?: string;
    problems?: { code: string; message: string; path?: string }[];
  };
}

async function post(body: unknown, env: SimulateBindings = ENV) {
  const res = await simulateRoutes.request(
    "/simulate/trade",
    { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" } },
    env,
  );
  return { status: res.status, json: (await res.json()) as SimulateResponse & ErrBody };
}

beforeEach(() => {
  instrumentCache.clear();
  clearPriceLimitCache();
});

describe("OKX's own JSON, verbatim", () => {
  it("a books push data[0] (real, with checksum/seqId/prevSeqId) and an instruments record (all strings) are accepted and echoed", async () => {
    const first = receivedMessages(DATA.btcSwap).find((m) => m.json.includes('"snapshot"'))!;
    const data0 = (JSON.parse(first.json) as { data: Record<string, unknown>[] }).data[0]!;
    expect(Object.keys(data0).sort()).toEqual(["asks", "bids", "checksum", "prevSeqId", "seqId", "ts"]);
    const rec = { ...okxRecord("SWAP", "BTC-USDT-SWAP"), lotSz: "0.01", minSz: "0.01" };
    const { status, json } = await post({
      instId: "BTC-USDT-SWAP",
      side: "buy",
      contracts: 10,
      orderbook: data0,
      instrument: rec,
    });
    expect(status, JSON.stringify(json)).toBe(200);
    expect(json.book).toMatchObject({
      seqId: data0.seqId,
      prevSeqId: data0.prevSeqId,
      checksum: data0.checksum,
      checksumValid: true,
      ts: Number(data0.ts),
      depthTruncated: null,
    });
    expect(json.instrument).toMatchObject({ ctVal: 0.01, maxMktSz: 1600, state: "live", source: "request" });
    expect(SimulateResponseSchema.safeParse(json).success).toBe(true);
    // One level edited: the checksum no longer matches and the response says so.
    const edited = { ...data0, asks: [["61800.3", "1", "0", "1"], ...(data0.asks as unknown[]).slice(1)] };
    const bad = await post({ instId: "BTC-USDT-SWAP", side: "buy", contracts: 10, orderbook: edited, instrument: rec });
    expect(bad.json.book.checksumValid).toBe(false);
    expect(bad.json.warnings.join(" ")).toMatch(/checksum does not match/);
  });

  it("a field OKX does not have is still refused, with the helpful message", async () => {
    const r = await post({ ...VALID, orderbook: { ...BOOK, sequence: 5 } });
    expect(r.status).toBe(400);
    expect(r.json.error.path).toBe("orderbook.sequence");
    expect(r.json.error.message).toMatch(/unknown field "sequence"/);
  });

  it("every validation problem is returned, not only the first", async () => {
    const r = await post({ ...VALID, side: "long", feeTier: "VIP9", quantity: 1 });
    expect(r.status).toBe(400);
    expect(r.json.error.problems!.map((p) => p.path).sort()).toEqual(["feeTier", "quantity", "side"]);
    const book = await post({
      ...VALID,
      orderbook: {
        bids: [
          ["29990", "x"],
          ["29980", "1"],
        ],
        asks: [
          ["30000", "1"],
          ["29999", "1"],
          ["30001", "-1"],
        ],
      },
    });
    expect(book.status).toBe(400);
    expect(book.json.error.problems!.map((p) => [p.code, p.path])).toEqual([
      ["invalid_size", "orderbook.bids[0][1]"],
      ["unsorted_book", "orderbook.asks[1][0]"],
      ["invalid_size", "orderbook.asks[2][1]"],
    ]);
    const inst = await post({ ...VALID, instrument: { ...SWAP_SPEC, ctVal: "0.01x", tickSz: "", ctType: "" } });
    expect(inst.json.error.problems!.map((p) => p.path).sort()).toEqual([
      "instrument.ctType",
      "instrument.ctVal",
      "instrument.tickSz",
    ]);
  });
});

describe("OKX market-order rules, each with OKX's sCode", () => {
  it("maxMktSz: 4,001 BTC-USD-SWAP contracts are refused with 51202 (REST capture: maxMktSz 4000); 100,000 too", async () => {
    for (const contracts of [4001, 100_000]) {
      const r = await post({ instId: "BTC-USD-SWAP", side: "sell", contracts, orderbook: BOOK });
      expect(r.status).toBe(422);
      expect(r.json.error).toMatchObject({ code: "market_size_exceeded", okxCode: "51202", path: "contracts" });
    }
    const ok = await post({ instId: "BTC-USD-SWAP", side: "sell", contracts: 400, orderbook: BOOK });
    expect(ok.status).toBe(200);
    // ioc orders are limit orders: maxMktSz does not apply.
    const ioc = await post({
      instId: "BTC-USD-SWAP",
      side: "sell",
      contracts: 4001,
      ordType: "ioc",
      px: "29980",
      orderbook: BOOK,
      priceLimit: { buyLmt: "", sellLmt: "", enabled: false },
    });
    expect(ioc.status).toBe(200);
  });

  it("spot maxMktSz is in USDT and maxMktAmt in USD: 51202 / 51201", async () => {
    const spot = { instType: "SPOT", tickSz: "0.1", lotSz: "0.00000001", minSz: "0.00001" };
    const sz = await post({
      instId: "BTC-USDT",
      side: "buy",
      notional: 20000,
      orderbook: SPOT_BOOK,
      instrument: { ...spot, maxMktSz: "10000" },
    });
    expect(sz.json.error).toMatchObject({ code: "market_size_exceeded", okxCode: "51202" });
    // 2 BTC valued at the mid 29995 = 59990 USD > 50000.
    const amt = await post({
      instId: "BTC-USDT",
      side: "sell",
      size: 2,
      orderbook: SPOT_BOOK,
      instrument: { ...spot, maxMktAmt: "50000" },
    });
    expect(amt.json.error).toMatchObject({ code: "market_amount_exceeded", okxCode: "51201", path: "size" });
    const under = await post({
      instId: "BTC-USDT",
      side: "sell",
      size: 1.6,
      orderbook: { ...SPOT_BOOK, bids: [["29990", "5"]] },
      instrument: { ...spot, maxMktAmt: "50000" },
    });
    expect(under.status).toBe(200);
  });

  it("tgtCcy=quote_ccy: a spot market buy of 3,005 USDT spends exactly 3,005 and is not lot-rounded", async () => {
    const r = await post({
      instId: "BTC-USDT",
      side: "buy",
      notional: 3005,
      orderbook: SPOT_BOOK,
      instrument: { instType: "SPOT", tickSz: "0.1", lotSz: "0.0001", minSz: "0.00001" },
    });
    expect(r.status).toBe(200);
    // 0.1 BTC @ 30000 = 3000, then 5 USDT @ 30010 = 5/30010 BTC (0.000166..., not a multiple of 0.0001).
    expect(r.json.order).toMatchObject({ tgtCcy: "quote_ccy", lotRoundingApplied: false });
    expect(r.json.fill.filledBase).toBeCloseTo(0.1 + 5 / 30010, 14);
    expect(r.json.fill.filledQuote).toBeCloseTo(3005, 9);
    // As an ioc (a limit order, sized in base by OKX) the converted size is lot-rounded: 0.1001 BTC.
    const ioc = await post({
      instId: "BTC-USDT",
      side: "buy",
      notional: 3005,
      ordType: "ioc",
      px: "30010",
      orderbook: SPOT_BOOK,
      instrument: { instType: "SPOT", tickSz: "0.1", lotSz: "0.0001", minSz: "0.00001" },
    });
    expect(ioc.json.order).toMatchObject({ tgtCcy: null, orderBookUnits: 0.1001, lotRoundingApplied: true });
  });

  it("state: suspend -> 51022, preopen and test -> 51021", async () => {
    for (const [state, code] of [
      ["suspend", "51022"],
      ["preopen", "51021"],
      ["test", "51021"],
    ]) {
      const r = await post({ ...VALID, instrument: { ...SWAP_SPEC, state } });
      expect(r.status).toBe(422);
      expect(r.json.error).toMatchObject({ code: "instrument_not_live", okxCode: code, path: "instrument.state" });
    }
  });

  it("lot size 51121 and minSz 51020", async () => {
    const lot = await post({ ...VALID, contracts: 2.5 });
    expect(lot.json.error).toMatchObject({ code: "lot_size_mismatch", okxCode: "51121" });
    const min = await post({ ...VALID, contracts: 2, instrument: { ...SWAP_SPEC, minSz: 5 } });
    expect(min.json.error).toMatchObject({ code: "below_min_size", okxCode: "51020" });
  });

  it("price limit (request): a market buy fills up to buyLmt and the rest is cancelled", async () => {
    const r = await post({ ...VALID, priceLimit: { buyLmt: "30005", sellLmt: "29000" } });
    expect(r.status).toBe(200);
    // Only the 100 contracts at 30000 are within 30005; 150 cancelled.
    expect(r.json).toMatchObject({ status: "partially_filled" });
    expect(r.json.fill).toMatchObject({
      filledContracts: 100,
      endReason: "price_limit",
      unfilledInRequestedUnit: 150,
      unfilledBookUnits: 150,
      worstPrice: 30000,
    });
    expect(r.json.priceLimit).toMatchObject({ buyLmt: 30005, sellLmt: 29000, source: "request" });
    // A notional order: the cut 150 contracts would have cost 150 x 0.01 x 30010 = 45015 USDT.
    const n = await post({
      ...VALID,
      contracts: undefined,
      notional: 75015,
      priceLimit: { buyLmt: "30005", sellLmt: "29000" },
    });
    expect(n.json.fill.unfilledInRequestedUnit).toBeCloseTo(45015, 8);
    // Best ask already beyond the limit: nothing fills.
    const none = await post({ ...VALID, priceLimit: { buyLmt: "29995", sellLmt: "29000" } });
    expect(none.status).toBe(422);
    expect(none.json.error.code).toBe("no_fill");
  });

  it("price limit fetched from OKX REST like the spec (GET /api/v5/public/price-limit)", async () => {
    // sellLmt 29985: of the 150 @ 29990 and 300 @ 29980 bids only the first level is allowed.
    const r = await post({ instId: "BTC-USD-SWAP", side: "sell", contracts: 200, orderbook: BOOK });
    expect(r.status).toBe(200);
    expect(r.json.priceLimit).toMatchObject({ buyLmt: 30500, sellLmt: 29985, source: "okx_rest" });
    expect(r.json.fill).toMatchObject({ filledContracts: 150, endReason: "price_limit", unfilledBookUnits: 50 });
    // No limit known for this instrument: simulated without one, and the response says why.
    const spot = await post({ instId: "BTC-USDT", side: "buy", size: 0.1, orderbook: SPOT_BOOK });
    expect(spot.json.priceLimit).toMatchObject({ buyLmt: null, source: "none", note: expect.stringMatching(/51001/) });
  });
});

describe("ioc / fok", () => {
  it("ioc fills what lies at px or better and cancels the rest; fok is all or nothing", async () => {
    const full = await post({ ...VALID, ordType: "ioc", px: "30010" });
    expect(full.json).toMatchObject({ ordType: "ioc", status: "filled" });
    expect(full.json.fill).toMatchObject({ filledContracts: 250, endReason: "filled" });
    const part = await post({ ...VALID, ordType: "ioc", px: 30005 });
    expect(part.json).toMatchObject({ status: "partially_filled" });
    expect(part.json.fill).toMatchObject({ filledContracts: 100, endReason: "limit_price", unfilledBookUnits: 150 });
    const fokNo = await post({ ...VALID, ordType: "fok", px: "30005" });
    expect(fokNo.status).toBe(422);
    expect(fokNo.json.error.code).toBe("no_fill");
    const fokYes = await post({ ...VALID, ordType: "fok", px: "30010" });
    expect(fokYes.json.fill).toMatchObject({ filledContracts: 250, avgPrice: 30006 });
    const none = await post({ ...VALID, ordType: "ioc", px: "29999" });
    expect(none.json.error.code).toBe("no_fill");
    // A sell ioc: bids at 29985 or better -> only the 150 @ 29990.
    const sell = await post({ ...VALID, side: "sell", ordType: "ioc", px: "29985" });
    expect(sell.json.fill).toMatchObject({ filledContracts: 150, endReason: "limit_price" });
  });

  it("px beyond OKX's price limit is rejected with 51006 (pxAmendType 0, OKX's default)", async () => {
    const r = await post({ ...VALID, ordType: "ioc", px: "30050", priceLimit: { buyLmt: "30020", sellLmt: "29900" } });
    expect(r.status).toBe(422);
    expect(r.json.error).toMatchObject({ code: "price_out_of_limit", okxCode: "51006", path: "px" });
  });
});

describe("depth truncated vs exhausted", () => {
  const liveOf =
    (asks: number): LiveBookFn =>
    async () => ({
      bids: [{ price: 29990, size: 10 }],
      asks: Array.from({ length: asks }, (_, i) => ({ price: 30000 + i, size: 1 })),
      ts: Date.now(),
    });
  it("live book at its 400-level cap: depthTruncated true; below the cap: false; a request book: null", async () => {
    const cut = await post(
      { instId: "BTC-USDT-SWAP", side: "buy", contracts: 500, instrument: SWAP_SPEC },
      { ...ENV, SIM_LIVE_BOOK: liveOf(400) },
    );
    expect(cut.json.fill).toMatchObject({ endReason: "book_exhausted", filledContracts: 400, unfilledBookUnits: 100 });
    expect(cut.json.book.depthTruncated).toBe(true);
    expect(cut.json.warnings.join(" ")).toMatch(/cut at 400 levels/);
    const all = await post(
      { instId: "BTC-USDT-SWAP", side: "buy", contracts: 500, instrument: SWAP_SPEC },
      { ...ENV, SIM_LIVE_BOOK: liveOf(30) },
    );
    expect(all.json.book.depthTruncated).toBe(false);
    expect(all.json.warnings.join(" ")).toMatch(/all the liquidity OKX sent/);
    const req = await post({ ...VALID, contracts: 1000 });
    expect(req.json.book.depthTruncated).toBeNull();
    expect(req.json.fill.endReason).toBe("book_exhausted");
  });
});

describe("API contract details", () => {
  it("per-level fills on request: sizes, notionals and fees add up to the totals", async () => {
    const r = await post({ ...VALID, includeFills: true });
    expect(r.json.fills).toEqual([
      { price: 30000, sizeBookUnits: 100, base: 1, quote: 30000, feeInFeeCcy: 15 },
      { price: 30010, sizeBookUnits: 150, base: 1.5, quote: 45015, feeInFeeCcy: 0.0005 * 45015 },
    ]);
    expect(r.json.fills!.reduce((s, f) => s + f.feeInFeeCcy, 0)).toBeCloseTo(r.json.fee.amountInFeeCcy, 9);
    expect((await post(VALID)).json.fills).toBeNull();
  });

  it("USDC instruments do not claim verified fees", async () => {
    const r = await post({
      instId: "BTC-USDC",
      side: "buy",
      size: 0.1,
      orderbook: SPOT_BOOK,
      instrument: { instType: "SPOT", tickSz: "0.1", lotSz: "0.00000001", minSz: "0.00001" },
    });
    expect(r.json.fee.verified).toBe(false);
    expect(r.json.warnings.join(" ")).toMatch(/USDC/);
    expect((await post({ ...VALID })).json.fee.verified).toBe(true);
  });

  it('no "" in the response where a value does not apply: spot settle currency is null', async () => {
    const r = await post({ instId: "BTC-USDT", side: "buy", size: 0.1, orderbook: SPOT_BOOK });
    expect(r.json.currencies.settle).toBeNull();
    expect(r.json.netCost.settleCcy).toBeNull();
    expect(JSON.stringify(r.json)).not.toMatch(/:""/);
  });

  it("latencyMs without volatility says why the sigma-sqrt(t) figure is missing", async () => {
    const r = await post({ ...VALID, latencyMs: 50 });
    expect(r.json.marketImpact.latency!.sigmaSqrtT).toMatchObject({
      available: false,
      reason: expect.stringMatching(/needs volatility/),
    });
  });

  it("cost curve through the route == the same sizes as single requests; the reverse query stays within its bound", async () => {
    const sizes = [1, 50, 100, 101, 250, 300, 799, 800, 900];
    const r = await post({ ...VALID, sizes, maxSlippageBps: 3 });
    expect(r.status).toBe(200);
    for (const [i, size] of sizes.entries()) {
      const one = await post({ ...VALID, contracts: size });
      const c = r.json.costCurve![i]!;
      expect(c.requestedInRequestedUnit).toBe(size);
      expect(c.filledBookUnits).toBe(one.json.fill.filledContracts);
      expect(c.filledQuote).toBeCloseTo(one.json.fill.filledQuote, 9);
      expect(c.avgPrice).toBeCloseTo(one.json.fill.avgPrice, 9);
      expect(c.vsMidBps).toBeCloseTo(one.json.slippage.vsMidBps, 9);
      expect(c.netCostBps).toBeCloseTo(one.json.netCost.bps, 9);
      expect(c.fullyFilled).toBe(one.json.fill.fullyFilled);
    }
    // 3 bps over mid 29995 is 30003.9985: 100 @ 30000 plus q @ 30010 with (3,000,000 + 300.1 q) / (100 + q) <= 30003.9985
    // -> q <= 399.85 / 6.0015 = 66.6 -> 66 contracts (lotSz 1): 166 in all.
    expect(r.json.maxSize).toMatchObject({ maxSlippageBps: 3, largestBookUnits: 166, largestInRequestedUnit: 166 });
    expect(r.json.maxSize!.vsMidBps!).toBeLessThanOrEqual(3);
    const next = await post({ ...VALID, contracts: 167 });
    expect(next.json.slippage.vsMidBps).toBeGreaterThan(3);
  });
});

describe("latency that changes the fill (live book + the relay's book history)", () => {
  it("the route reports the empirical distribution from the history provider, equal to the pure function", async () => {
    const history = createBookHistory({ depth: 50 });
    const book = createBook("BTC-USDT-SWAP");
    for (const { json } of receivedMessages(DATA.btcSwap).slice(0, 2500)) {
      const m = parseOkxMessage(json);
      if (m.kind === "books" && applyBook(book, m.action, m.data).ok) history.record(book);
    }
    const snap = history.snapshot();
    const env: SimulateBindings = { ...ENV, SIM_LIVE_BOOK: async () => book, SIM_BOOK_HISTORY: async () => snap };
    const spec = { ...SWAP_SPEC, lotSz: 0.01, minSz: 0.01 };
    const r = await post(
      { instId: "BTC-USDT-SWAP", side: "buy", contracts: 200, instrument: spec, latencyMs: 250 },
      env,
    );
    expect(r.status).toBe(200);
    const want = latencyCostDistribution(
      snap,
      { side: "buy", spec: { ...spec, ctMult: 1 } as never, unit: "contracts", amount: 200 },
      250,
    );
    expect(want.available).toBe(true);
    expect(r.json.marketImpact.latency!.empirical).toMatchObject({
      available: true,
      reason: null,
      decisions: want.decisions,
      meanBps: (want as { meanBps: number }).meanBps,
      p95Bps: (want as { p95Bps: number }).p95Bps,
    });
    // Without a history provider, or on a request book, it says why.
    const none = await post(
      { instId: "BTC-USDT-SWAP", side: "buy", contracts: 200, instrument: spec, latencyMs: 250 },
      {
        ...env,
        SIM_BOOK_HISTORY: async () => {
          throw new Error("no such RPC");
        },
      },
    );
    expect(none.json.marketImpact.latency!.empirical).toMatchObject({
      available: false,
      reason: expect.stringMatching(/no such RPC/),
    });
  });
});
