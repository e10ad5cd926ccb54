/**
 * Property-based fuzzing of POST /simulate/trade (issue: reliability): 10,000+ generated bodies, from plausible
 * requests with one field broken to arbitrary JSON and non-JSON text. Every answer must be a 200 or a documented
 * 4xx/503 with the `{error:{code,message,path?}}` shape, never a 500, and never leak internals (stack traces,
 * file paths, exception class names).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { simulateRoutes, type SimulateBindings } from "../src/routes/simulate.js";
import type { FetchLike } from "../src/sim/instruments.js";
import { ERROR_CODES, SimulateResponseSchema } from "../src/sim/schema.js";
import { handleInstrumentsRequest, loadInstruments } from "../tools/exchange/instruments.js";
import { DATA } from "../tools/lib/captures.js";

loadInstruments(DATA.instruments20220513);
const exchangeFetch: FetchLike = async (input) => {
  const r = handleInstrumentsRequest(new URL(input));
  return r === null ? new Response("not found", { status: 404 }) : new Response(r.body, { status: r.status });
};
const ENV: SimulateBindings = { OKX_REST_URL: "http://okx.test", SIM_FETCH: exchangeFetch };

const DOCUMENTED = new Set([200, 400, 413, 415, 422, 424, 503]);
const LEAKS =
  /\bat [\w$.<>]+ \(|\.ts:\d+|\.js:\d+|node_modules|TypeError|ReferenceError|RangeError|SyntaxError: Unexpected/;

async function check(raw: string, contentType = "application/json"): Promise<void> {
  const res = await simulateRoutes.request(
    "/simulate/trade",
    { method: "POST", body: raw, headers: { "content-type": contentType } },
    ENV,
  );
  const text = await res.text();
  expect(DOCUMENTED.has(res.status), `status ${res.status} for ${raw.slice(0, 200)}: ${text.slice(0, 300)}`).toBe(true);
  const body = JSON.parse(text) as { error?: { code: unknown; message: unknown; path?: unknown } };
  if (res.status === 200) {
    // Every 200 is the published response shape.
    expect(SimulateResponseSchema.safeParse(body).success, text.slice(0, 300)).toBe(true);
  } else {
    // Every error code is one the OpenAPI enum documents.
    expect(ERROR_CODES as readonly unknown[], text.slice(0, 300)).toContain(body.error?.code);
    expect(typeof body.error?.message).toBe("string");
    if (body.error?.path !== undefined) expect(typeof body.error.path).toBe("string");
    // error bodies say what to fix, never how the server failed
    expect(LEAKS.test(text), `leak in ${text.slice(0, 300)}`).toBe(false);
  }
}

const num = fc.oneof(
  fc.double({ noNaN: false }),
  fc.integer(),
  fc.constantFrom(0, -1, 1e308, -1e-308, Number.MAX_SAFE_INTEGER),
  fc.constantFrom("1", "0", "-5", "1e400", "NaN", "Infinity", "0x10", " 1", "", "1.5.5"),
);
const level = fc.oneof(
  fc.tuple(num, num),
  fc.tuple(num, num, fc.string(), fc.string()),
  fc.array(num, { maxLength: 5 }),
  fc.jsonValue(),
);
const side = fc.oneof(fc.array(level, { maxLength: 12 }), fc.jsonValue());
const instrument = fc.oneof(
  fc.record(
    {
      instType: fc.constantFrom("SPOT", "SWAP", "FUTURES", "MARGIN", "OPTION", "NOPE"),
      ctVal: num,
      ctMult: num,
      ctType: fc.constantFrom("linear", "inverse", "weird"),
      tickSz: num,
      lotSz: num,
      minSz: num,
    },
    { requiredKeys: [] },
  ),
  fc.jsonValue(),
);
const body = fc.record(
  {
    instId: fc.oneof(
      fc.constantFrom("BTC-USDT", "BTC-USDT-SWAP", "BTC-USD-SWAP", "ETH-USDT", "NOPE-XYZ", "btc", ""),
      fc.string(),
    ),
    side: fc.oneof(fc.constantFrom("buy", "sell"), fc.string()),
    size: num,
    contracts: num,
    notional: num,
    orderbook: fc.oneof(
      fc.record({ bids: side, asks: side, ts: fc.oneof(fc.string(), fc.integer()) }, { requiredKeys: [] }),
      fc.jsonValue(),
    ),
    instrument,
    feeTier: fc.oneof(fc.constantFrom("Lv1", "Lv5", "VIP8", "VIP9"), fc.string()),
    takerFeeRate: num,
    volatility: fc.oneof(
      fc.record({ value: num, unit: fc.constantFrom("per_second", "annualised", "daily") }),
      fc.jsonValue(),
    ),
    latencyMs: num,
    adv24hBase: num,
    ordType: fc.oneof(fc.constantFrom("market", "ioc", "fok", "limit"), fc.string()),
    px: num,
    priceLimit: fc.oneof(
      fc.record({ buyLmt: num, sellLmt: num, enabled: fc.boolean() }, { requiredKeys: [] }),
      fc.jsonValue(),
    ),
    sizes: fc.oneof(fc.array(num, { maxLength: 70 }), fc.jsonValue()),
    maxSlippageBps: num,
    includeFills: fc.oneof(fc.boolean(), fc.jsonValue()),
  },
  { requiredKeys: [] },
);

// A valid request with exactly one field replaced: most bodies get deep into validation, not stopped at the door.
const VALID = {
  instId: "BTC-USDT-SWAP",
  side: "buy",
  contracts: 250,
  feeTier: "Lv1",
  orderbook: {
    bids: [
      ["29990", "150"],
      ["29980", "300"],
    ],
    asks: [
      ["30000", "100"],
      ["30010", "200"],
    ],
  },
  instrument: { instType: "SWAP", ctVal: 0.01, ctMult: 1, ctType: "linear", tickSz: 0.1, lotSz: 1, minSz: 1 },
  ordType: "ioc",
  px: "30010",
  priceLimit: { buyLmt: "30050", sellLmt: "29900" },
  sizes: [1, 10, 100, 1000],
  maxSlippageBps: 5,
  includeFills: true,
};
const oneBroken = fc
  .tuple(
    fc.constantFrom(
      ...Object.keys(VALID),
      "orderbook.bids",
      "orderbook.asks",
      "instrument.ctVal",
      "instrument.lotSz",
      "priceLimit.buyLmt",
      "orderbook.checksum",
      "instrument.maxMktSz",
      "instrument.state",
    ),
    fc.oneof(num, level, side, fc.jsonValue()),
  )
  .map(([key, value]) => {
    const b = JSON.parse(JSON.stringify(VALID)) as Record<string, Record<string, unknown>>;
    const [a, k] = key.split(".");
    if (k === undefined) (b as Record<string, unknown>)[a!] = value;
    else b[a!]![k] = value;
    return b;
  });

describe("fuzz POST /simulate/trade: never a 500, every error documented", () => {
  it("4,000 bodies: a valid request with one field broken", async () => {
    await fc.assert(
      fc.asyncProperty(oneBroken, async (b) => check(JSON.stringify(b))),
      { numRuns: 4000 },
    );
  });

  it("4,000 bodies: random request-shaped objects", async () => {
    await fc.assert(
      fc.asyncProperty(body, async (b) => check(JSON.stringify(b))),
      { numRuns: 4000 },
    );
  });

  it("1,500 bodies: arbitrary JSON values", async () => {
    await fc.assert(
      fc.asyncProperty(fc.jsonValue(), async (v) => check(JSON.stringify(v) ?? "null")),
      { numRuns: 1500 },
    );
  });

  it("1,000 bodies: non-JSON text, truncated JSON and wrong content types", async () => {
    const truncated = fc.nat(200).map((n) => JSON.stringify(VALID).slice(0, n));
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.string(), truncated),
        fc.constantFrom("application/json", "text/plain", "", "application/json; charset=utf-8"),
        async (raw, ct) => check(raw, ct),
      ),
      { numRuns: 1000 },
    );
  });
});
