import { describe, expect, it, vi } from "vitest";
import {
  clearPriceLimitCache,
  fetchInstrument,
  fetchPriceLimit,
  inferInstType,
  InstrumentCache,
  instrumentsUrl,
  parseInstrumentsResponse,
  parseOkxInstrument,
  specFromInput,
  type FetchLike,
  type InstrumentSpec,
} from "../src/sim/instruments.js";
import { InstrumentInputSchema } from "../src/sim/schema.js";
import {
  handleInstrumentsRequest,
  handlePriceLimitRequest,
  handlePublicRequest,
  loadInstruments,
  setPriceLimits,
} from "../tools/exchange/instruments.js";
import { DATA } from "../tools/lib/captures.js";

const store = loadInstruments(DATA.instruments20220513);
const OKX = "http://okx.test";

/** A fetch backed by the local exchange's handler (real 2022-05-13 OKX answers), counting calls. */
function exchangeFetch() {
  const calls: string[] = [];
  const f: FetchLike = async (input) => {
    calls.push(input);
    const r = handleInstrumentsRequest(new URL(input));
    if (r === null) return new Response("not found", { status: 404 });
    return new Response(r.body, { status: r.status, headers: { "content-type": "application/json" } });
  };
  return { f, calls };
}

function okxGet(path: string): { status: number; json: { code: string; msg: string; data: Record<string, string>[] } } {
  const r = handleInstrumentsRequest(new URL(path, OKX));
  if (r === null) throw new Error("not handled");
  return { status: r.status, json: JSON.parse(r.body) };
}

describe("local exchange: GET /api/v5/public/instruments from the real 2022-05-13 capture", () => {
  it("loads every captured instrument type", () => {
    expect(store.byType.get("SPOT")!.length).toBe(513);
    expect(store.byType.get("SWAP")!.length).toBe(166);
    expect(store.byType.get("FUTURES")!.length).toBe(104);
    expect(store.optionsByUly.get("BTC-USD")!.length).toBe(346);
    expect(store.optionsByUly.get("ETH-USD")!.length).toBe(350);
  });

  it("answers like OKX: {code:'0', data:[records verbatim], msg:''}, key order included", () => {
    const r = handleInstrumentsRequest(new URL("/api/v5/public/instruments?instType=SWAP&instId=BTC-USDT-SWAP", OKX))!;
    expect(r.status).toBe(200);
    expect(r.body.startsWith('{"code":"0","data":[{"alias":""')).toBe(true);
    expect(r.body.endsWith(',"msg":""}')).toBe(true);
    const rec = JSON.parse(r.body).data[0];
    expect(rec).toMatchObject({
      instId: "BTC-USDT-SWAP",
      instType: "SWAP",
      ctType: "linear",
      ctVal: "0.01",
      ctValCcy: "BTC",
      lotSz: "1",
      minSz: "1",
      tickSz: "0.1",
      settleCcy: "USDT",
      uly: "BTC-USDT",
    });
  });

  it("lists a whole instType, and filters by uly / instFamily", () => {
    expect(okxGet("/api/v5/public/instruments?instType=SPOT").json.data.length).toBe(513);
    const inverse = okxGet("/api/v5/public/instruments?instType=SWAP&uly=BTC-USD").json.data;
    expect(inverse.map((d) => d.instId)).toEqual(["BTC-USD-SWAP"]);
    const fut = okxGet("/api/v5/public/instruments?instType=FUTURES&instFamily=BTC-USD").json.data;
    expect(fut.map((d) => d.instId)).toEqual(["BTC-USD-220520", "BTC-USD-220527", "BTC-USD-220624", "BTC-USD-220930"]);
    const opt = okxGet("/api/v5/public/instruments?instType=OPTION&uly=BTC-USD&instId=BTC-USD-220514-22000-C").json
      .data;
    expect(opt[0]).toMatchObject({ instType: "OPTION", ctMult: "0.1", ctVal: "1", ctValCcy: "BTC" });
  });

  it("MARGIN: margin-enabled spot pairs, re-typed", () => {
    const m = okxGet("/api/v5/public/instruments?instType=MARGIN&instId=BTC-USDT").json.data;
    expect(m[0]).toMatchObject({ instId: "BTC-USDT", instType: "MARGIN" });
  });

  it.each([
    ["/api/v5/public/instruments", "50014", "Parameter instType can not be empty."],
    ["/api/v5/public/instruments?instType=", "50014", "Parameter instType can not be empty."],
    ["/api/v5/public/instruments?instType=PERP", "51000", "Parameter instType error"],
    ["/api/v5/public/instruments?instType=OPTION", "50014", "Parameter uly can not be empty."],
    ["/api/v5/public/instruments?instType=SPOT&uly=BTC-USDT", "51000", "Parameter uly error"],
    ["/api/v5/public/instruments?instType=SWAP&instId=NOPE-USDT-SWAP", "51001", "Instrument ID does not exist"],
    ["/api/v5/public/instruments?instType=SPOT&instId=BTC-USDT-SWAP", "51001", "Instrument ID does not exist"],
  ])("%s -> OKX error %s", (path, code, msg) => {
    const r = okxGet(path);
    expect(r.status).toBe(400);
    expect(r.json).toEqual({ code, data: [], msg });
  });

  it("is not in the way of other paths", () => {
    expect(handleInstrumentsRequest(new URL("/api/v5/public/time", OKX))).toBeNull();
    expect(handleInstrumentsRequest(new URL("/ws/v5/public", OKX))).toBeNull();
  });
});

describe("parseOkxInstrument on real OKX records", () => {
  const rec = (instType: string, instId: string) => {
    const r = okxGet(
      `/api/v5/public/instruments?instType=${instType}&instId=${instId}${instType === "OPTION" ? "&uly=BTC-USD" : ""}`,
    );
    return r.json.data[0];
  };

  it.each<[string, string, Partial<InstrumentSpec>]>([
    [
      "SPOT",
      "BTC-USDT",
      {
        instType: "SPOT",
        ctVal: 1,
        ctMult: 1,
        ctType: "linear",
        lotSz: 0.00000001,
        minSz: 0.00001,
        tickSz: 0.1,
        baseCcy: "BTC",
        quoteCcy: "USDT",
        settleCcy: "",
        ctValCcy: "BTC",
      },
    ],
    [
      "SWAP",
      "BTC-USDT-SWAP",
      {
        ctVal: 0.01,
        ctType: "linear",
        lotSz: 1,
        minSz: 1,
        baseCcy: "BTC",
        quoteCcy: "USDT",
        settleCcy: "USDT",
        ctValCcy: "BTC",
      },
    ],
    [
      "SWAP",
      "BTC-USD-SWAP",
      { ctVal: 100, ctType: "inverse", baseCcy: "BTC", quoteCcy: "USD", settleCcy: "BTC", ctValCcy: "USD" },
    ],
    [
      "SWAP",
      "UNI-USD-SWAP",
      { ctVal: 10, ctType: "inverse", tickSz: 0.001, settleCcy: "UNI", baseCcy: "UNI", quoteCcy: "USD" },
    ],
    ["FUTURES", "BTC-USD-220527", { instType: "FUTURES", ctVal: 100, ctType: "inverse", settleCcy: "BTC" }],
    [
      "OPTION",
      "BTC-USD-220514-22000-C",
      { instType: "OPTION", ctVal: 1, ctMult: 0.1, ctType: "linear", ctValCcy: "BTC" },
    ],
  ])("%s %s", (instType, instId, want) => {
    const spec = parseOkxInstrument(rec(instType, instId));
    expect(typeof spec).toBe("object");
    expect(spec).toMatchObject({ instId, ...want });
  });

  it("rejects unusable records with a reason", () => {
    expect(parseOkxInstrument(null)).toMatch(/not an object/);
    expect(parseOkxInstrument({ instId: "X-Y", instType: "SPOT", tickSz: "0.1", lotSz: "0", minSz: "1" })).toMatch(
      /lotSz/,
    );
    expect(
      parseOkxInstrument({
        instId: "X-Y-SWAP",
        instType: "SWAP",
        tickSz: "0.1",
        lotSz: "1",
        minSz: "1",
        ctVal: "",
        ctType: "linear",
      }),
    ).toMatch(/ctVal/);
    expect(
      parseOkxInstrument({
        instId: "X-Y-SWAP",
        instType: "SWAP",
        tickSz: "0.1",
        lotSz: "1",
        minSz: "1",
        ctVal: "1",
        ctType: "",
      }),
    ).toMatch(/ctType/);
    expect(parseOkxInstrument({ instId: "X-Y", instType: "STOCK", tickSz: "0.1", lotSz: "1", minSz: "1" })).toMatch(
      /instType/,
    );
  });
});

describe("instId -> instType and REST URL", () => {
  it.each([
    ["BTC-USDT", "SPOT"],
    ["BTC-USDT-SWAP", "SWAP"],
    ["BTC-USD-SWAP", "SWAP"],
    ["BTC-USD-220527", "FUTURES"],
    ["BTC-USD-220514-22000-C", "OPTION"],
    ["BTC", null],
    ["BTC-USD-FOO", null],
  ])("%s -> %s", (id, t) => expect(inferInstType(id)).toBe(t));

  it("builds OKX's query (uly for options)", () => {
    expect(instrumentsUrl("https://www.okx.com", "BTC-USDT-SWAP")).toBe(
      "https://www.okx.com/api/v5/public/instruments?instType=SWAP&instId=BTC-USDT-SWAP",
    );
    expect(instrumentsUrl("http://127.0.0.1:8080", "BTC-USD-220514-22000-C")).toBe(
      "http://127.0.0.1:8080/api/v5/public/instruments?instType=OPTION&uly=BTC-USD&instId=BTC-USD-220514-22000-C",
    );
  });
});

describe("parseInstrumentsResponse", () => {
  it("51001 and an empty data list both mean unknown; other codes are errors", () => {
    expect(parseInstrumentsResponse({ code: "51001", data: [], msg: "Instrument ID does not exist" }, "X-Y").kind).toBe(
      "unknown",
    );
    expect(parseInstrumentsResponse({ code: "0", data: [], msg: "" }, "X-Y").kind).toBe("unknown");
    expect(parseInstrumentsResponse({ code: "50011", data: [], msg: "Rate limit reached" }, "X-Y")).toEqual({
      kind: "error",
      message: "OKX error 50011: Rate limit reached",
    });
    expect(parseInstrumentsResponse("nope", "X-Y").kind).toBe("error");
  });
});

describe("specFromInput (the request's instrument object)", () => {
  it("spot defaults: ctVal 1, currencies from instId", () => {
    expect(specFromInput("ETH-USDC", { instType: "SPOT", tickSz: 0.01, lotSz: 0.0001, minSz: 0.001 })).toMatchObject({
      ctVal: 1,
      ctType: "linear",
      baseCcy: "ETH",
      quoteCcy: "USDC",
      ctValCcy: "ETH",
    });
  });
  it("inverse defaults: settles in the coin, ctVal in USD", () => {
    expect(
      specFromInput("BTC-USD-SWAP", {
        instType: "SWAP",
        ctVal: 100,
        ctType: "inverse",
        tickSz: 0.1,
        lotSz: 1,
        minSz: 1,
      }),
    ).toMatchObject({
      ctMult: 1,
      baseCcy: "BTC",
      quoteCcy: "USD",
      settleCcy: "BTC",
      ctValCcy: "USD",
    });
  });
  it("derivatives must state ctVal and ctType (no silent contracts-as-coins)", () => {
    const paths = (r: ReturnType<typeof specFromInput>) => ("problems" in r ? r.problems.map((p) => p.path) : []);
    expect(
      paths(specFromInput("BTC-USDT-SWAP", { instType: "SWAP", ctType: "linear", tickSz: 0.1, lotSz: 1, minSz: 1 })),
    ).toEqual(["ctVal"]);
    expect(
      paths(specFromInput("BTC-USDT-SWAP", { instType: "SWAP", ctVal: 0.01, tickSz: 0.1, lotSz: 1, minSz: 1 })),
    ).toEqual(["ctType"]);
    expect(
      paths(specFromInput("BTC-USDT", { instType: "SPOT", ctType: "inverse", tickSz: 0.1, lotSz: 1, minSz: 1 })),
    ).toEqual(["ctType"]);
    expect(
      paths(specFromInput("BTC-USDT", { instType: "SPOT", ctVal: 0.01, tickSz: 0.1, lotSz: 1, minSz: 1 })),
    ).toEqual(["ctVal"]);
    // Every problem, not just the first.
    expect(
      paths(specFromInput("BTC-USDT-SWAP", { instType: "SWAP", ctVal: "x", tickSz: "-1", lotSz: "", minSz: 1 })),
    ).toEqual(["tickSz", "ctVal", "lotSz", "ctType"]);
  });

  it('accepts every real OKX instrument record of the 2022-05-13 capture verbatim (strings, "" fields) as the request would', () => {
    let n = 0;
    for (const instType of ["SPOT", "SWAP", "FUTURES"]) {
      const r = handleInstrumentsRequest(new URL(`http://x/api/v5/public/instruments?instType=${instType}`))!;
      for (const rec of (JSON.parse(r.body) as { data: Record<string, string>[] }).data) {
        const parsed = InstrumentInputSchema.safeParse(rec);
        expect(parsed.success, `${rec.instId}: ${JSON.stringify(parsed.error?.issues[0])}`).toBe(true);
        const spec = specFromInput(rec.instId!, parsed.data!);
        expect("problems" in spec, rec.instId).toBe(false);
        // The same numbers as the REST path (parseOkxInstrument) gives.
        expect(spec).toEqual(parseOkxInstrument(rec));
        n++;
      }
    }
    expect(n).toBeGreaterThan(500);
  });
});

describe("fetchInstrument: OKX REST through the in-memory cache", () => {
  it("resolves real specs via the local exchange, then serves them from the cache until the TTL", async () => {
    const { f, calls } = exchangeFetch();
    const cache = new InstrumentCache();
    let now = 1_000;
    const opts = { baseUrl: OKX, fetch: f, cache, now: () => now, ttlMs: 10_000 };
    const a = await fetchInstrument("BTC-USDT-SWAP", opts);
    expect(a).toMatchObject({ ok: true, source: "okx_rest", spec: { ctVal: 0.01, ctType: "linear" } });
    expect(calls).toEqual([`${OKX}/api/v5/public/instruments?instType=SWAP&instId=BTC-USDT-SWAP`]);
    const b = await fetchInstrument("BTC-USDT-SWAP", opts);
    expect(b).toMatchObject({ ok: true, source: "cache" });
    expect(calls.length).toBe(1);
    now += 10_001;
    const c = await fetchInstrument("BTC-USDT-SWAP", opts);
    expect(c).toMatchObject({ ok: true, source: "okx_rest" });
    expect(calls.length).toBe(2);
    // Keyed by instId: another instrument is another call.
    expect(await fetchInstrument("BTC-USD-SWAP", opts)).toMatchObject({
      ok: true,
      spec: { ctType: "inverse", ctVal: 100, settleCcy: "BTC" },
    });
    expect(calls.length).toBe(3);
  });

  it("unknown instruments: reason unknown, cached briefly (negative TTL)", async () => {
    const { f, calls } = exchangeFetch();
    const cache = new InstrumentCache();
    let now = 0;
    const opts = { baseUrl: OKX, fetch: f, cache, now: () => now, negativeTtlMs: 1000 };
    expect(await fetchInstrument("NOPE-USDT-SWAP", opts)).toMatchObject({ ok: false, reason: "unknown" });
    expect(await fetchInstrument("NOPE-USDT-SWAP", opts)).toMatchObject({ ok: false, reason: "unknown" });
    expect(calls.length).toBe(1);
    now += 1001;
    await fetchInstrument("NOPE-USDT-SWAP", opts);
    expect(calls.length).toBe(2);
  });

  it("an instId whose type cannot be inferred is unknown without a network call", async () => {
    const f = vi.fn<FetchLike>();
    expect(
      await fetchInstrument("WEIRD-ID-FORMAT-X", { baseUrl: OKX, fetch: f, cache: new InstrumentCache() }),
    ).toMatchObject({ ok: false, reason: "unknown" });
    expect(f).not.toHaveBeenCalled();
  });

  it("network failure, HTTP 5xx with HTML, and OKX error codes are 'unavailable' and NOT cached", async () => {
    const cache = new InstrumentCache();
    const boom: FetchLike = async () => {
      throw new TypeError("fetch failed");
    };
    expect(await fetchInstrument("BTC-USDT", { baseUrl: OKX, fetch: boom, cache })).toMatchObject({
      ok: false,
      reason: "unavailable",
      message: expect.stringMatching(/fetch failed/),
    });
    const html: FetchLike = async () => new Response("<html>502 Bad Gateway</html>", { status: 502 });
    expect(await fetchInstrument("BTC-USDT", { baseUrl: OKX, fetch: html, cache })).toMatchObject({
      ok: false,
      reason: "unavailable",
      message: expect.stringMatching(/HTTP 502/),
    });
    const limited: FetchLike = async () =>
      Response.json({ code: "50011", data: [], msg: "Rate limit reached" }, { status: 429 });
    expect(await fetchInstrument("BTC-USDT", { baseUrl: OKX, fetch: limited, cache })).toMatchObject({
      ok: false,
      reason: "unavailable",
    });
    expect(cache.size).toBe(0);
    const { f } = exchangeFetch();
    expect(await fetchInstrument("BTC-USDT", { baseUrl: OKX, fetch: f, cache })).toMatchObject({ ok: true });
  });

  it("coalesces concurrent look-ups of the same instId into one call", async () => {
    const { f, calls } = exchangeFetch();
    const cache = new InstrumentCache();
    const rs = await Promise.all(
      [1, 2, 3, 4].map(() => fetchInstrument("ETH-USDT", { baseUrl: OKX, fetch: f, cache })),
    );
    expect(rs.every((r) => r.ok)).toBe(true);
    expect(calls.length).toBe(1);
  });

  it("the cache is bounded", () => {
    const c = new InstrumentCache(3);
    for (let i = 0; i < 10; i++) c.set(`k${i}`, { ok: false, reason: "unknown", message: "" }, 1e15);
    expect(c.size).toBe(3);
    expect(c.get("k9", 0)).toBeDefined();
    expect(c.get("k0", 0)).toBeUndefined();
  });
});

describe("local exchange: GET /api/v5/public/price-limit (configured band, OKX's shape and codes)", () => {
  const get = (q: string) => handlePriceLimitRequest(new URL(`http://x/api/v5/public/price-limit${q}`), 1723161256509)!;
  it("BTC-USDT-SWAP: +-2 % around the stream's first mid 61,800.25, on the 0.1 tick, rounded inwards", () => {
    const r = get("?instId=BTC-USDT-SWAP");
    expect(r.status).toBe(200);
    // 61800.25 x 1.02 = 63036.255 -> 63036.2; 61800.25 x 0.98 = 60564.245 -> 60564.3.
    expect(JSON.parse(r.body)).toEqual({
      code: "0",
      msg: "",
      data: [
        {
          instType: "SWAP",
          instId: "BTC-USDT-SWAP",
          buyLmt: "63036.2",
          sellLmt: "60564.3",
          ts: "1723161256509",
          enabled: true,
        },
      ],
    });
  });
  it("no band configured: enabled false with empty limits; unknown instId 51001; no instId 50014; other paths null", () => {
    expect(JSON.parse(get("?instId=ETH-USDT-SWAP").body).data[0]).toMatchObject({
      buyLmt: "",
      sellLmt: "",
      enabled: false,
    });
    expect(JSON.parse(get("?instId=NOPE-USDT-SWAP").body)).toMatchObject({ code: "51001", data: [] });
    expect(JSON.parse(get("").body)).toMatchObject({ code: "50014" });
    expect(handlePriceLimitRequest(new URL("http://x/api/v5/public/instruments?instType=SPOT"))).toBeNull();
    expect(
      handlePublicRequest(new URL("http://x/api/v5/public/instruments?instType=SPOT&instId=BTC-USDT"))!.status,
    ).toBe(200);
  });
  it("configurable, and read by the simulator's fetchPriceLimit", async () => {
    setPriceLimits({ "BTC-USD-SWAP": { refPx: 30000, band: 0.01 } });
    try {
      clearPriceLimitCache();
      const f: FetchLike = async (u) => {
        const r = handlePublicRequest(new URL(u))!;
        return new Response(r.body, { status: r.status });
      };
      expect(await fetchPriceLimit("BTC-USD-SWAP", { baseUrl: "http://x", fetch: f })).toEqual({
        ok: true,
        buyLmt: 30300,
        sellLmt: 29700,
        enabled: true,
      });
      expect(await fetchPriceLimit("NOPE-USD-SWAP", { baseUrl: "http://x", fetch: f })).toMatchObject({
        ok: false,
        message: expect.stringMatching(/51001/),
      });
    } finally {
      setPriceLimits(null);
    }
  });
});
