/**
 * /ws/prediction end to end inside workerd: the relay DO, fed by the local exchange, computes features on every
 * book, runs the shipped ONNX model, streams forecasts, and scores them once their 60 s horizon has passed
 * (exchange time; the test exchange replays at x2, so ~30 s of wall time). The score is recomputed here from what
 * the clients observed (every book's mid, every forecast), so a relay that scores the wrong thing fails.
 */
import { describe, expect, it } from "vitest";
import modelMeta from "../models/mid60.json";
import type { BookMessage, PredictionMessage, ScoreMessage } from "../src/protocol.js";
import { TestClient, relayStats, uniqueName } from "./helpers/ws-client.js";

const SWAP = "BTC-USDT-SWAP";
const SHIPPED = modelMeta as { name: string; version: string };
/** The no-change predictor the relay serves until the ONNX model has loaded ("no-change-fallback" today). */
const FALLBACK = /^no-change/;

/** Score metrics recomputed from the forecasts and the observed books (as-of rule of src/features/asof.ts). */
function recompute(preds: readonly PredictionMessage[], books: readonly BookMessage[], at: number, windowMs: number) {
  const mids = books.map((b) => ({ ts: b.ts, mid: (Number(b.bids[0]![0]) + Number(b.asks[0]![0])) / 2 }));
  const realised = preds
    .map((p) => ({ p, due: p.ts + p.horizonSec * 1000 }))
    .filter((x) => x.due < at)
    .map(({ p, due }) => {
      // the mid of the LAST book with ts <= due (arrival order)
      let mid = NaN;
      for (const m of mids) if (m.ts <= due) mid = m.mid;
      const ret = Math.log(mid / p.mid) * 1e4;
      return { due, err: ret - p.predictedReturnBps, ret };
    });
  const maxDue = Math.max(...realised.map((r) => r.due));
  const win = realised.filter((r) => r.due >= maxDue - windowMs);
  const n = win.length;
  return {
    count: n,
    maeBps: win.reduce((s, r) => s + Math.abs(r.err), 0) / n,
    rmseBps: Math.sqrt(win.reduce((s, r) => s + r.err * r.err, 0) / n),
    baselineRmseBps: Math.sqrt(win.reduce((s, r) => s + r.ret * r.ret, 0) / n),
  };
}

describe("/ws/prediction", () => {
  it("streams forecasts from the shipped model on books the clients saw; the live score recomputes from them", async () => {
    const name = uniqueName("predict");
    // depth 1 is enough for the mid; the book client is connected before the relay's first book, so it sees all
    const books = await TestClient.openRelay(name, SWAP, "book", 1);
    const preds = await TestClient.openRelay(name, SWAP, "prediction");
    const s = await preds.next<ScoreMessage>((m) => m.type === "score" && m.count >= 10, 70_000, "score over 10 forecasts");
    const forecasts = preds.messages.filter((m): m is PredictionMessage => m.type === "prediction");
    const seen = books.books();

    // Which model made each forecast: the no-change fallback until the ONNX model loads, then the shipped one only.
    const models = forecasts.map((p) => `${p.model.name}@${p.model.version}`);
    const firstShipped = models.indexOf(`${SHIPPED.name}@${SHIPPED.version}`);
    expect(firstShipped).toBeGreaterThanOrEqual(0);
    expect(models.slice(firstShipped).every((m) => m === `${SHIPPED.name}@${SHIPPED.version}`)).toBe(true);
    for (const p of forecasts.slice(0, firstShipped)) {
      expect(p.model.name).toMatch(FALLBACK);
      expect(p.predictedReturnBps).toBe(0);
      expect(p.predictedMid).toBe(p.mid);
    }
    expect(forecasts.length - firstShipped).toBeGreaterThan(10);

    // Each forecast is made on a book the book client saw: same exchange ts, same mid (recomputed from its levels).
    for (const p of forecasts) {
      expect(p).toMatchObject({ instId: SWAP, horizonSec: 60 });
      const same = seen.filter((b) => b.ts === p.ts).map((b) => (Number(b.bids[0]![0]) + Number(b.asks[0]![0])) / 2);
      expect(same).toContain(p.mid);
      expect(p.low).toBeLessThanOrEqual(p.predictedMid);
      expect(p.high).toBeGreaterThanOrEqual(p.predictedMid);
    }
    // forecasts at most once per second of exchange time
    for (let i = 1; i < forecasts.length; i++) expect(forecasts[i]!.ts - forecasts[i - 1]!.ts).toBeGreaterThanOrEqual(1000);

    // The score, recomputed from the observed forecasts and book mids.
    const want = recompute(forecasts.filter((p) => p.ts < s.ts), seen, s.ts, 600_000);
    expect(s.count).toBe(want.count);
    expect(s.maeBps).toBeCloseTo(want.maeBps, 6);
    expect(s.rmseBps).toBeCloseTo(want.rmseBps, 6);
    expect(s.baselineRmseBps).toBeCloseTo(want.baselineRmseBps, 6);
    // Every score message so far checks out the same way; a window of no-change forecasts scores rmse == baseline.
    const scores = preds.messages.filter((m): m is ScoreMessage => m.type === "score");
    for (const sc of scores) {
      const w = recompute(forecasts.filter((p) => p.ts < sc.ts), seen, sc.ts, 600_000);
      expect([sc.count, sc.rmseBps, sc.baselineRmseBps].map((x) => +x.toFixed(6))).toEqual([w.count, w.rmseBps, w.baselineRmseBps].map((x) => +x.toFixed(6)));
      const scored = forecasts.filter((p) => p.ts + 60_000 < sc.ts);
      if (scored.every((p) => p.predictedReturnBps === 0)) expect(sc.rmseBps).toBeCloseTo(sc.baselineRmseBps, 9);
    }

    // prediction clients do not receive books, book clients do not receive predictions
    expect(preds.messages.some((m) => m.type === "book")).toBe(false);
    expect(books.messages.some((m) => m.type === "prediction")).toBe(false);
    const st = await relayStats(name);
    expect(st.model).toBe(`${SHIPPED.name}@${SHIPPED.version}`);
    books.close();
    preds.close();
  }, 100_000);
});
