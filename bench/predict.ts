/**
 * Prediction cost per snapshot: feature computation (the relay's code, on real streams, in V8 under Node — the same
 * engine workerd uses), the Prediction v2 engine's per-book work (features on books + trades, per-horizon scoring,
 * gating, conformal), and, inside workerd, ONNX session creation (cold start) and session.run for all heads, as
 * measured by test/predict.workers.test.ts and test/predict-v2.workers.test.ts (mean over 5,000 calls: workerd's
 * clock only advances on I/O, so single calls cannot be timed there).
 */
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import {
  createFeatureState,
  NUM_FEATURES,
  parseOkxTrade,
  updateFeatures,
  updateTrades,
  type TradeView,
} from "../src/features/features.js";
import { applyBook, createBook, type Book } from "../src/okx/book.js";
import { parseOkxMessage } from "../src/okx/protocol.js";
import { createPredictionEngine } from "../src/predict/engine.js";
import { NoChangeMultiModel } from "../src/predict/multi.js";
import { DATA, REPO_ROOT, receivedMessages } from "../tools/lib/captures.js";
import type { Result } from "./lib.js";

/** Books (top 25 kept: all the features read) and trades of a capture, in the order received. */
function events(path: string): ({ book: Book } | { trade: TradeView })[] {
  const out: ({ book: Book } | { trade: TradeView })[] = [];
  let b: Book | null = null;
  for (const { json } of receivedMessages(path)) {
    const m = parseOkxMessage(json);
    if (m.kind === "trades") {
      for (const d of m.data) {
        const t = parseOkxTrade(d);
        if (t) out.push({ trade: t });
      }
    }
    if (m.kind !== "books") continue;
    b ??= createBook(m.arg.instId);
    const r = applyBook(b, m.action, m.data);
    if (r.ok && r.changed) out.push({ book: { ...b, bids: b.bids.slice(0, 25), asks: b.asks.slice(0, 25) } });
  }
  return out;
}

function workerdTimings(file: string): string {
  const r = spawnSync("npx", ["vitest", "run", "--config", "vitest.workers.config.ts", file, "--silent=false"], {
    cwd: REPO_ROOT,
    encoding: "utf8",
    env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
  });
  return `${r.stdout}\n${r.stderr}`;
}

export function benchPredict(quick: boolean): Result[] {
  const out: Result[] = [];
  const rounds = quick ? 1 : 20;
  const vec = new Float32Array(NUM_FEATURES);
  for (const [label, path] of [
    ["BTC-USDT-SWAP 6 min, books only", DATA.btcSwap],
    [
      "okcoin BTC/CNY 6 min, books + trades",
      resolve(REPO_ROOT, "test/fixtures/trades/okcoin-btccny-2016-03-03-6min.txt.gz"),
    ],
  ] as const) {
    const ev = events(path);
    const books = ev.filter((e) => "book" in e).length;
    let n = 0;
    const t0 = performance.now();
    for (let r = 0; r < rounds; r++) {
      const st = createFeatureState();
      for (const e of ev) {
        if ("trade" in e) updateTrades(st, e.trade);
        else {
          updateFeatures(st, e.book, vec);
          n++;
        }
      }
    }
    out.push({
      name: `features per book, trades folded in (25 features, ${label}, ${books} books x ${rounds})`,
      value: ((performance.now() - t0) * 1000) / n,
      unit: "us",
    });
    // The engine's synchronous per-book work (features + scoring + gate + conformal of 2 horizons); forecasts are
    // async (session.run) and at most 1/s, so their cost is the workerd figure below, not per book.
    const model = new NoChangeMultiModel([
      { horizonSec: 10, lowBps: -3, highBps: 3 },
      { horizonSec: 60, lowBps: -8, highBps: 8 },
    ]);
    let m = 0;
    const t1 = performance.now();
    for (let r = 0; r < rounds; r++) {
      const eng = createPredictionEngine({ instId: "X", model });
      for (const e of ev) {
        if ("trade" in e) eng.onTrade(e.trade);
        else {
          eng.onBook(e.book);
          m++;
        }
      }
    }
    out.push({
      name: `engine.onBook per book (features + 2-horizon scoring, ${label})`,
      value: ((performance.now() - t1) * 1000) / m,
      unit: "us",
    });
  }
  if (!quick) {
    const v1 = workerdTimings("test/predict.workers.test.ts");
    const create = [...v1.matchAll(/session created in (\d+(?:\.\d+)?) ms/g)].map((x) => Number(x[1]));
    const run = [
      ...v1.matchAll(/mean predict \(session\.run \+ tensor wrap\) (\d+(?:\.\d+)?) us over (\d+) runs/g),
    ].map((x) => Number(x[1]));
    if (create.length === 0 || run.length === 0)
      throw new Error(`could not read the workerd timings:\n${v1.slice(-1500)}`);
    out.push({
      name: "workerd: ONNX session creation, first model (cold start, includes starting ORT)",
      value: create[0]!,
      unit: "ms",
    });
    out.push({
      name: "workerd: predict = session.run + tensor wrap, mean over 5,000 calls",
      value: Math.min(...run),
      unit: "us",
      note: `graphs measured: ${run.map((x) => x.toFixed(1)).join(", ")} us`,
    });
    const v2 = workerdTimings("test/predict-v2.workers.test.ts");
    const c2 = [...v2.matchAll(/(predict-v2[-a-z]*): session created in (\d+(?:\.\d+)?) ms/g)];
    const r2 = [
      ...v2.matchAll(
        /(predict-v2[-a-z]*): mean predict \(session\.run \+ tensor wrap, all horizons\) (\d+(?:\.\d+)?) us/g,
      ),
    ];
    if (c2.length === 0 || r2.length === 0)
      throw new Error(`could not read the v2 workerd timings:\n${v2.slice(-1500)}`);
    out.push({
      name: "workerd: v2 session creation, first graph of the isolate (cold start)",
      value: Number(c2[0]![2]),
      unit: "ms",
      note: c2.map((x) => `${x[1]} ${x[2]} ms`).join(", "),
    });
    for (const x of r2)
      out.push({
        name: `workerd: v2 ${x[1]} all heads, session.run mean over 5,000 calls`,
        value: Number(x[2]),
        unit: "us",
      });
  }
  return out;
}
