/**
 * Prediction cost per snapshot: feature computation (the relay's code, on the real BTC-USDT-SWAP stream, in V8
 * under Node — the same engine workerd uses) and, inside workerd, ONNX session creation (cold start) and
 * session.run, as measured by test/predict.workers.test.ts (mean over 5,000 calls: workerd's clock only advances
 * on I/O, so single calls cannot be timed there).
 */
import { spawnSync } from "node:child_process";
import { applyBook, createBook, type Book } from "../src/okx/book.js";
import { createFeatureState, NUM_FEATURES, updateFeatures } from "../src/features/features.js";
import { parseOkxMessage } from "../src/okx/protocol.js";
import { DATA, REPO_ROOT, receivedMessages } from "../tools/lib/captures.js";
import type { Result } from "./lib.js";

export function benchPredict(quick: boolean): Result[] {
  const out: Result[] = [];
  // Snapshots of the book after each message (top 25 is all the features read).
  const snaps: Book[] = [];
  const b = createBook("BTC-USDT-SWAP");
  for (const { json } of receivedMessages(DATA.btcSwap)) {
    const m = parseOkxMessage(json);
    if (m.kind !== "books" || !applyBook(b, m.action, m.data).ok) continue;
    snaps.push({ ...b, bids: b.bids.slice(0, 25), asks: b.asks.slice(0, 25) });
  }
  const vec = new Float32Array(NUM_FEATURES);
  const rounds = quick ? 1 : 20;
  let n = 0;
  const t0 = performance.now();
  for (let r = 0; r < rounds; r++) {
    const st = createFeatureState();
    for (const s of snaps) {
      updateFeatures(st, s, vec);
      n++;
    }
  }
  out.push({ name: `features per book (16 features, real stream, ${snaps.length} books x ${rounds})`, value: ((performance.now() - t0) * 1000) / n, unit: "us" });
  if (!quick) {
    const r = spawnSync("npx", ["vitest", "run", "--config", "vitest.workers.config.ts", "test/predict.workers.test.ts", "--silent=false"], {
      cwd: REPO_ROOT,
      encoding: "utf8",
      env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
    });
    const text = `${r.stdout}\n${r.stderr}`;
    const create = [...text.matchAll(/session created in (\d+(?:\.\d+)?) ms/g)].map((m) => Number(m[1]));
    const run = [...text.matchAll(/mean predict \(session\.run \+ tensor wrap\) (\d+(?:\.\d+)?) us over (\d+) runs/g)].map((m) => Number(m[1]));
    if (create.length === 0 || run.length === 0) throw new Error(`could not read the workerd timings:\n${text.slice(-1500)}`);
    out.push({ name: "workerd: ONNX session creation, first model (cold start, includes starting ORT)", value: create[0]!, unit: "ms" });
    out.push({ name: "workerd: predict = session.run + tensor wrap, mean over 5,000 calls", value: Math.min(...run), unit: "us", note: `graphs measured: ${run.map((x) => x.toFixed(1)).join(", ")} us` });
  }
  return out;
}
