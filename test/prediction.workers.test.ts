/**
 * /ws/prediction end to end inside workerd: the relay DO, fed by the local exchange replaying a real capture WITH
 * trades (6 minutes of OKCoin BTC/CNY, books + every trade, at x2), folds books and trades into the features, runs
 * the shipped multi-horizon ONNX model, streams forecasts for every horizon and scores each horizon once it has
 * passed (exchange time). The per-horizon score is recomputed here from what the clients observed (every book's
 * mid, every served forecast), so a relay that scores the wrong thing fails.
 */
import { describe, expect, it } from "vitest";
import modelMeta from "../models/predict-v2.json";
import type { BookMessage, PredictionMessage, ScoreMessage } from "../src/protocol.js";
import { TestClient, relayStats, uniqueName } from "./helpers/ws-client.js";

const INST = "BTC-CNY";
const SHIPPED = modelMeta as { name: string; version: string; heads: { horizonSec: number }[] };
const HORIZONS = SHIPPED.heads.map((h) => h.horizonSec);

/** Per-horizon score recomputed from the served forecasts and the observed books (as-of rule of src/features/asof.ts). */
function recompute(preds: readonly PredictionMessage[], books: readonly BookMessage[], at: number, horizonSec: number) {
  const mids = books.map((b) => ({ ts: b.ts, mid: (Number(b.bids[0]![0]) + Number(b.asks[0]![0])) / 2 }));
  const windowMs = Math.max(600, 20 * horizonSec) * 1000;
  const realised = preds
    .map((p) => ({ p, f: p.horizons.find((h) => h.horizonSec === horizonSec)!, due: p.ts + horizonSec * 1000 }))
    // resolved once a book later than `due` has arrived (before the score was sent)
    .filter((x) => mids.some((m) => m.ts > x.due && m.ts <= at))
    .map(({ p, f, due }) => {
      let mid = NaN;
      for (const m of mids) if (m.ts <= due) mid = m.mid; // the mid of the LAST book with ts <= due
      const ret = Math.log(mid / p.mid) * 1e4;
      return { due, err: ret - f.predictedReturnBps, ret };
    });
  const maxDue = Math.max(...realised.map((r) => r.due));
  const win = realised.filter((r) => r.due > maxDue - windowMs);
  const n = win.length;
  return {
    count: n,
    rmseBps: Math.sqrt(win.reduce((s, r) => s + r.err * r.err, 0) / n),
    baselineRmseBps: Math.sqrt(win.reduce((s, r) => s + r.ret * r.ret, 0) / n),
  };
}

describe("/ws/prediction (multi-horizon, books + trades)", () => {
  it("streams every horizon from the shipped model on books the clients saw; per-horizon live scores recompute", async () => {
    const name = uniqueName("predict");
    // depth 1 is enough for the mid; the book client connects before the relay's first book, so it sees all of them
    const books = await TestClient.openRelay(name, INST, "book", 1);
    const preds = await TestClient.openRelay(name, INST, "prediction");
    const longest = Math.max(...HORIZONS);
    const s = await preds.next<ScoreMessage>(
      (m) => m.type === "score" && m.horizons.every((h) => h.count >= (h.horizonSec === longest ? 3 : 10)),
      100_000,
      "scores on every horizon",
    );
    const forecasts = preds.messages.filter((m): m is PredictionMessage => m.type === "prediction");
    const seen = books.books();

    // Which model made each forecast: the no-change fallback until the ONNX model loads, then the shipped one only.
    const models = forecasts.map((p) => `${p.model.name}@${p.model.version}`);
    const firstShipped = models.indexOf(`${SHIPPED.name}@${SHIPPED.version}`);
    expect(firstShipped).toBeGreaterThanOrEqual(0);
    expect(models.slice(firstShipped).every((m) => m === `${SHIPPED.name}@${SHIPPED.version}`)).toBe(true);
    for (const p of forecasts.slice(0, firstShipped)) {
      expect(p.horizons.every((h) => h.predictedReturnBps === 0 && h.point === "no-change")).toBe(true);
    }
    // The shipped heads are not no-change: some served forecast moves.
    expect(forecasts.slice(firstShipped).some((p) => p.horizons.some((h) => h.predictedReturnBps !== 0))).toBe(true);

    for (const p of forecasts) {
      expect(p.instId).toBe(INST);
      expect(p.horizons.map((h) => h.horizonSec)).toEqual(HORIZONS);
      // made on a book the book client saw: same exchange ts, same mid (recomputed from its levels)
      const same = seen.filter((b) => b.ts === p.ts).map((b) => (Number(b.bids[0]![0]) + Number(b.asks[0]![0])) / 2);
      expect(same).toContain(p.mid);
      for (const h of p.horizons) {
        expect(h.lowBps).toBeLessThanOrEqual(h.highBps);
        if (h.point === "no-change") expect(h.predictedReturnBps).toBe(0);
      }
    }
    for (let i = 1; i < forecasts.length; i++)
      expect(forecasts[i]!.ts - forecasts[i - 1]!.ts).toBeGreaterThanOrEqual(1000);

    // Each horizon's score, recomputed from the observed forecasts (those made by the model now serving: a model
    // change restarts the scores) and book mids.
    const current = forecasts.slice(firstShipped);
    for (const h of s.horizons) {
      const want = recompute(
        current.filter((p) => p.ts < s.ts),
        seen,
        s.ts,
        h.horizonSec,
      );
      expect(h.count).toBe(want.count);
      expect(h.rmseBps).toBeCloseTo(want.rmseBps, 6);
      expect(h.baselineRmseBps).toBeCloseTo(want.baselineRmseBps, 6);
      expect(h.coverage).not.toBeNull();
    }

    // Trades reached the relay on the same socket and were used; books and predictions stay on their own sockets.
    const st = await relayStats(name);
    expect(st.tradeMessages).toBeGreaterThan(0);
    expect(st.badTrades).toBe(0);
    expect(st.model).toBe(`${SHIPPED.name}@${SHIPPED.version}`);
    expect(preds.messages.some((m) => m.type === "book")).toBe(false);
    expect(books.messages.some((m) => m.type === "prediction")).toBe(false);
    books.close();
    preds.close();
  }, 120_000);
});
