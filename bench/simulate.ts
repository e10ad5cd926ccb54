/**
 * POST /simulate/trade: in-process engine latency (mean over many calls) for 25, 400 and 5,000-level books
 * sent as OKX string levels, the same through the Hono route in-process (JSON parse + zod + engine), and HTTP
 * requests/s with p50/p99 through `wrangler dev` with autocannon on loopback.
 */
import autocannon from "autocannon";
import { simulateRoutes } from "../src/routes/simulate.js";
import { applyBook, createBook } from "../src/okx/book.js";
import { parseOkxMessage } from "../src/okx/protocol.js";
import { specFromInput, type InstrumentSpec } from "../src/sim/instruments.js";
import { SimulateRequestSchema } from "../src/sim/schema.js";
import { simulateTrade } from "../src/sim/simulate.js";
import { DATA, receivedMessages } from "../tools/lib/captures.js";
import { medianPerCall, type Result } from "./lib.js";
import { startStack } from "./stack.js";

const INSTRUMENT = { instType: "SWAP", ctVal: 0.01, ctMult: 1, ctType: "linear", tickSz: 0.1, lotSz: 0.01, minSz: 0.01 } as const;

/** A real BTC-USDT-SWAP book (after 3,000 updates) with `n` levels per side; beyond its depth the real price grid is extended. */
function realBook(n: number): { bids: [string, string][]; asks: [string, string][] } {
  const b = createBook("BTC-USDT-SWAP");
  let k = 0;
  for (const { json } of receivedMessages(DATA.btcSwap)) {
    const m = parseOkxMessage(json);
    if (m.kind === "books") applyBook(b, m.action, m.data);
    if (++k > 3000) break;
  }
  const side = (ls: typeof b.bids, dir: number): [string, string][] => {
    const out: [string, string][] = ls.slice(0, n).map((l) => [l.px, l.sz]);
    let px = ls[Math.min(n, ls.length) - 1]!.price;
    while (out.length < n) {
      px = Math.round((px + dir * 0.1) * 10) / 10;
      out.push([px.toFixed(1), "1.5"]);
    }
    return out;
  };
  return { bids: side(b.bids, -1), asks: side(b.asks, 1) };
}

function body(levels: number) {
  // a buy that walks about a tenth of the ask side (at least one level)
  const book = realBook(levels);
  const contracts = Math.max(1, Math.round(book.asks.slice(0, Math.max(1, levels / 10)).reduce((s, [, sz]) => s + Number(sz), 0)));
  return { instId: "BTC-USDT-SWAP", side: "buy", contracts, feeTier: "Lv1", orderbook: book, instrument: INSTRUMENT };
}

/** Simulation benchmarks; quick mode: tiny durations and no HTTP load. */
export async function benchSimulate(quick: boolean): Promise<Result[]> {
  const out: Result[] = [];
  const ms = quick ? 50 : 1000;
  for (const n of [25, 400, 5000]) {
    const b = body(n);
    const req = SimulateRequestSchema.parse(b);
    const spec = specFromInput(req.instId, req.instrument as never) as InstrumentSpec;
    const r = simulateTrade({ request: req, instrument: spec, instrumentSource: "request", nowMs: Date.now() });
    if (!r.ok) throw new Error(`simulate failed: ${JSON.stringify(r.error)}`);
    const t = medianPerCall(() => simulateTrade({ request: req, instrument: spec, instrumentSource: "request", nowMs: Date.now() }), quick ? 1 : 5, ms);
    out.push({
      name: `engine simulateTrade, ${n} string levels/side (parse+validate all, fill, costs)`,
      value: t.nsPerCall / 1000,
      unit: "us",
      note: quick ? undefined : `median of 5 rounds, ${(t.minNs / 1000).toFixed(1)}-${(t.maxNs / 1000).toFixed(1)}`,
    });
  }
  for (const n of [25, 400]) {
    const text = JSON.stringify(body(n));
    const init = { method: "POST", headers: { "content-type": "application/json" }, body: text };
    const res = await simulateRoutes.request("/simulate/trade", init, {});
    if (res.status !== 200) throw new Error(`route answered ${res.status}: ${await res.text()}`);
    // async route: time a batch of sequential requests
    const reps = quick ? 20 : 2000;
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) await (await simulateRoutes.request("/simulate/trade", init, {})).arrayBuffer();
    out.push({ name: `route in-process (JSON parse + zod + engine + JSON out), ${n} levels/side`, value: ((performance.now() - t0) * 1000) / reps, unit: "us" });
  }
  if (!quick) {
    const stack = await startStack();
    try {
      for (const n of [25, 400]) {
        const r = await autocannon({
          url: `${stack.base}/simulate/trade`,
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(body(n)),
          connections: 10,
          duration: 10,
        });
        if (r.non2xx > 0) throw new Error(`${r.non2xx} non-2xx answers`);
        out.push({ name: `HTTP via wrangler dev, ${n} levels/side, 10 connections, 10 s`, value: r.requests.average, unit: "req/s" });
        out.push({ name: `  latency p50`, value: r.latency.p50, unit: "ms" });
        out.push({ name: `  latency p99`, value: r.latency.p99, unit: "ms" });
      }
    } finally {
      await stack.stop();
    }
  }
  return out;
}
