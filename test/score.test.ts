import { describe, expect, it } from "vitest";
import { buildDataset, type LabeledRow } from "../src/features/dataset.js";
import { createFeatureState, FEATURE_VERSION, NUM_FEATURES, updateFeatures, type BookView } from "../src/features/features.js";
import { applyBook, createBook, mid } from "../src/okx/book.js";
import { parseOkxMessage } from "../src/okx/protocol.js";
import { createForecaster, forecasterOnBook, forecasterReset } from "../src/predict/forecaster.js";
import { NoChangePredictor, predictionMessage, type Predictor } from "../src/predict/predictor.js";
import type { PredictionMessage, ScoreMessage } from "../src/protocol.js";
import { addForecast, createScorer, dropPending, observeMid, pendingCount, scoreMessage, scoreMetrics } from "../src/predict/score.js";
import { DATA, receivedMessages } from "../tools/lib/captures.js";

const bps = (a: number, b: number) => Math.log(a / b) * 1e4;

describe("live scorer: hand-checked", () => {
  it("scores each forecast against the as-of mid once a later book proves it final", () => {
    const s = createScorer({ horizonSec: 1 });
    const r = bps(100.1, 100); // 9.995 bps
    // Book at 0: forecast +10 bps, interval [-5, 20].
    expect(observeMid(s, 0, 100)).toBe(0);
    addForecast(s, { ts: 0, mid: 100, returnBps: 10, lowBps: -5, highBps: 20 });
    // Book at 500: forecast -5 bps, interval [-10, 0].
    expect(observeMid(s, 500, 100)).toBe(0);
    addForecast(s, { ts: 500, mid: 100, returnBps: -5, lowBps: -10, highBps: 0 });
    // Book exactly at the first due time: not final yet (another book could share the ts).
    expect(observeMid(s, 1000, 100.1)).toBe(0);
    expect(pendingCount(s)).toBe(2);
    // A later book: both dues (1000, 1500) are before 1600, their as-of book is the one at 1000.
    expect(observeMid(s, 1600, 100.05)).toBe(2);
    const m = scoreMetrics(s);
    expect(m.count).toBe(2);
    expect(m.maeBps).toBeCloseTo((Math.abs(r - 10) + Math.abs(r + 5)) / 2, 12);
    expect(m.rmseBps).toBeCloseTo(Math.sqrt(((r - 10) ** 2 + (r + 5) ** 2) / 2), 12);
    expect(m.baselineRmseBps).toBeCloseTo(r, 12);
    expect(m.hitRate).toBe(0.5); // + was right, - was wrong
    expect(m.coverage).toBe(0.5); // 9.995 in [-5, 20], not in [-10, 0]
    expect(scoreMessage(s, "BTC-USDT-SWAP", 1600, { name: "m", version: "v" })).toEqual({
      type: "score",
      instId: "BTC-USDT-SWAP",
      ts: 1600,
      horizonSec: 1,
      ...m,
      model: { name: "m", version: "v" },
    });
  });

  it.each([
    { name: "no-change forecasts: no direction, RMSE == baseline", ret: 0, hitRate: null, rmseIsBaseline: true },
    { name: "perfect forecasts: zero error, all hits", ret: NaN /* filled with the realised */, hitRate: 1, rmseIsBaseline: false },
  ])("$name", ({ ret, hitRate, rmseIsBaseline }) => {
    const s = createScorer({ horizonSec: 1 });
    const mids = [100, 100.2, 100.1, 100.3, 100.3, 100.6, 100.2, 100.4];
    for (let i = 0; i < mids.length; i++) {
      observeMid(s, i * 1000, mids[i]!);
      const next = mids[i + 1];
      const pred = Number.isNaN(ret) ? (next === undefined ? 0 : bps(next, mids[i]!)) : ret;
      addForecast(s, { ts: i * 1000, mid: mids[i]!, returnBps: pred, lowBps: -1, highBps: 1 });
    }
    observeMid(s, 100_000, 100);
    const m = scoreMetrics(s);
    expect(m.count).toBe(mids.length); // the book at 100 s closes every horizon, the last (7 s + 1 s) included
    expect(m.hitRate).toBe(hitRate);
    if (rmseIsBaseline) expect(m.rmseBps).toBeCloseTo(m.baselineRmseBps, 12);
    else expect(m.rmseBps).toBeLessThan(1e-9);
  });

  it("the rolling window keeps only forecasts due within windowSec of the newest", () => {
    const s = createScorer({ horizonSec: 1, windowSec: 2 });
    for (let t = 0; t <= 10_000; t += 1000) {
      observeMid(s, t, 100 + t / 1000);
      addForecast(s, { ts: t, mid: 100 + t / 1000, returnBps: 0, lowBps: 0, highBps: 0 });
    }
    // A due time d is final at the first book after d: the book at 10 s closes dues 1..9 s (forecasts 0..8 s).
    // Window: due >= newest due (9 s) - 2 s, i.e. the forecasts made at 6, 7 and 8 s.
    expect(s.totalScored).toBe(9);
    expect(scoreMetrics(s).count).toBe(3);
    // Mid rising 1 per second: the realised 1 s returns of those three forecasts.
    const rets = [7, 8, 9].map((k) => bps(100 + k, 99 + k));
    expect(scoreMetrics(s).baselineRmseBps).toBeCloseTo(Math.sqrt(rets.reduce((a, x) => a + x * x, 0) / 3), 9);
  });

  it("dropPending forgets forecasts across a resync; an empty window reports zeros and nulls", () => {
    const s = createScorer({ horizonSec: 1 });
    observeMid(s, 0, 100);
    addForecast(s, { ts: 0, mid: 100, returnBps: 1, lowBps: 0, highBps: 2 });
    dropPending(s);
    expect(pendingCount(s)).toBe(0);
    observeMid(s, 5000, 101);
    expect(scoreMetrics(s)).toEqual({ count: 0, maeBps: 0, rmseBps: 0, baselineRmseBps: 0, hitRate: null, coverage: null });
    expect(s.droppedPending).toBe(1);
  });

  it("bounds the pending queue", () => {
    const s = createScorer({ horizonSec: 60, maxPending: 10 });
    for (let t = 0; t < 100; t++) {
      observeMid(s, t, 100);
      addForecast(s, { ts: t, mid: 100, returnBps: 0, lowBps: 0, highBps: 0 });
    }
    expect(pendingCount(s)).toBe(10);
    expect(s.droppedPending).toBe(90);
  });
});

describe("live scorer realises exactly the training target (6-minute BTC stream, 60 s)", () => {
  it("forecasting the CSV target itself scores zero error on every row", () => {
    const msgs = receivedMessages(DATA.btcSwap).map((m) => parseOkxMessage(m.json));
    const rows: LabeledRow[] = [];
    buildDataset(msgs, { instId: "BTC-USDT-SWAP", horizonsSec: [60] }, (r) => rows.push(r));
    // Replay the stream the way the relay would: observe every book, forecast "the future" from the CSV.
    const s = createScorer({ horizonSec: 60, windowSec: 1e9 });
    const book = createBook("BTC-USDT-SWAP");
    let i = 0;
    for (const m of msgs) {
      if (m.kind !== "books") continue;
      const r = applyBook(book, m.action, m.data);
      if (!r.ok || !r.changed) continue;
      observeMid(s, book.ts, mid(book)!);
      const row = rows[i];
      if (row && row.ts === book.ts) {
        const t = row.targets[0]!.bps;
        addForecast(s, { ts: row.ts, mid: row.mid, returnBps: t, lowBps: t, highBps: t });
        i++;
      }
    }
    expect(i).toBe(rows.length);
    const sm = scoreMetrics(s);
    expect(sm.count).toBe(rows.length);
    expect(sm.rmseBps).toBe(0);
    expect(sm.coverage).toBe(1);
    // The realised 60 s returns of this stream, for the record (no-change RMSE).
    expect(sm.baselineRmseBps).toBeGreaterThan(1);
  });
});

describe("forecaster: features + predictor + scorer per snapshot (what the relay calls)", () => {
  const msgs = receivedMessages(DATA.btcSwap).map((m) => parseOkxMessage(m.json));

  /** Spy predictor: records its inputs; resolves immediately unless `hold` is set. */
  function spy(returnBps = 0) {
    const inputs: Float32Array[] = [];
    let release: (() => void) | null = null;
    const p: Predictor & { inputs: Float32Array[]; hold: boolean; release: () => void } = {
      name: "spy",
      version: "t",
      horizonSec: 60,
      featureVersion: FEATURE_VERSION,
      inputs,
      hold: false,
      release: () => release?.(),
      predict(x) {
        inputs.push(x);
        const fc = { returnBps, lowBps: -10, highBps: 10 };
        return this.hold ? new Promise((r) => (release = () => r(fc))) : Promise.resolve(fc);
      },
    };
    return p;
  }

  it("on the 6-minute stream: one forecast per second of exchange time, on the features of that very book, then live scores", async () => {
    const p = spy();
    const fc = createForecaster({ instId: "BTC-USDT-SWAP", predictor: p });
    const book = createBook("BTC-USDT-SWAP");
    const ref = createFeatureState();
    const refVec = new Float32Array(NUM_FEATURES);
    const predictions: PredictionMessage[] = [];
    const scores: ScoreMessage[] = [];
    for (const m of msgs) {
      if (m.kind !== "books") continue;
      const r = applyBook(book, m.action, m.data);
      if (!r.ok || !r.changed) continue;
      updateFeatures(ref, book, refVec);
      const out = forecasterOnBook(fc, book);
      if (out.score) scores.push(out.score);
      if (out.prediction) {
        expect([...p.inputs[p.inputs.length - 1]!]).toEqual([...refVec]);
        const msg = await out.prediction;
        expect(msg).not.toBeNull();
        expect(msg!.ts).toBe(book.ts);
        expect(msg!.mid).toBe(mid(book));
        predictions.push(msg!);
      }
    }
    // ~345 s of books -> ~345 forecasts, at least 1 s apart in exchange time.
    expect(predictions.length).toBeGreaterThan(300);
    expect(predictions.length).toBeLessThan(350);
    for (let i = 1; i < predictions.length; i++) expect(predictions[i]!.ts - predictions[i - 1]!.ts).toBeGreaterThanOrEqual(1000);
    // Scores start once the first horizon has passed, at most one per second.
    expect(scores.length).toBeGreaterThan(200);
    expect(scores[0]!.ts - predictions[0]!.ts).toBeGreaterThan(60_000);
    const last = scores[scores.length - 1]!;
    expect(last).toMatchObject({ type: "score", instId: "BTC-USDT-SWAP", horizonSec: 60, hitRate: null, model: { name: "spy", version: "t" } });
    expect(last.rmseBps).toBeCloseTo(last.baselineRmseBps, 9); // a 0 bps forecast IS the baseline
  });

  it("one forecast in flight at a time; a reset discards the forecast that was running", async () => {
    const p = spy(5);
    p.hold = true;
    const fc = createForecaster({ instId: "X-Y", predictor: p, minIntervalMs: 0 });
    const b = (ts: number, m: number): BookView => ({ ts, bids: [{ price: m - 0.5, size: 1 }], asks: [{ price: m + 0.5, size: 1 }] });
    const first = forecasterOnBook(fc, b(0, 100)).prediction;
    expect(first).not.toBeNull();
    expect(forecasterOnBook(fc, b(10, 100)).prediction).toBeNull(); // still running
    p.release();
    expect((await first)!.predictedReturnBps).toBe(5);
    const second = forecasterOnBook(fc, b(20, 100)).prediction;
    expect(second).not.toBeNull();
    forecasterReset(fc);
    p.release();
    expect(await second).toBeNull();
    // The first forecast was waiting for its horizon: the reset dropped it too (the mid in the gap is unknown).
    expect(pendingCount(fc.scorer)).toBe(0);
    expect(fc.scorer.droppedPending).toBe(1);
    expect(fc.forecasts).toBe(1);
    expect(fc.features.count).toBe(0);
  });

  it("a failing predictor yields null and does not wedge the forecaster", async () => {
    const p: Predictor = { name: "bad", version: "0", horizonSec: 60, featureVersion: FEATURE_VERSION, predict: () => Promise.reject(new Error("boom")) };
    const fc = createForecaster({ instId: "X-Y", predictor: p, minIntervalMs: 0 });
    const b: BookView = { ts: 1, bids: [{ price: 99, size: 1 }], asks: [{ price: 101, size: 1 }] };
    expect(await forecasterOnBook(fc, b).prediction).toBeNull();
    expect(fc.errors).toBe(1);
    expect(forecasterOnBook(fc, { ...b, ts: 2 }).prediction).not.toBeNull();
  });

  it("NoChangePredictor: constant forecast, interval must contain 0", async () => {
    const p = new NoChangePredictor(60, -11.5, 11.5);
    expect(await p.predict(new Float32Array(NUM_FEATURES))).toEqual({ returnBps: 0, lowBps: -11.5, highBps: 11.5 });
    expect(() => new NoChangePredictor(60, 1, 2)).toThrow(/contain 0/);
    const msg = predictionMessage("BTC-USDT-SWAP", 5, 100, { returnBps: 10, lowBps: -20, highBps: 30 }, p);
    expect(msg.predictedMid).toBeCloseTo(100 * Math.exp(0.001), 12);
    expect(msg.low).toBeCloseTo(100 * Math.exp(-0.002), 12);
    expect(msg.high).toBeCloseTo(100 * Math.exp(0.003), 12);
  });
});
