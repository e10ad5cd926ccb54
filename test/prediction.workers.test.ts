/**
 * /ws/prediction end to end inside workerd: the relay DO, fed by the local exchange, computes features on every
 * book, runs the shipped ONNX model, streams forecasts, and scores them once their 60 s horizon has passed
 * (exchange time; the test exchange replays at x2, so ~30 s of wall time).
 */
import { describe, expect, it } from "vitest";
import modelMeta from "../models/mid60.json";
import type { BookMessage, PredictionMessage, ScoreMessage } from "../src/protocol.js";
import { TestClient, relayStats, uniqueName } from "./helpers/ws-client.js";

const SWAP = "BTC-USDT-SWAP";

describe("/ws/prediction", () => {
  it("streams forecasts from the shipped model, then live scores", async () => {
    const name = uniqueName("predict");
    const books = await TestClient.openRelay(name, SWAP, "book");
    const preds = await TestClient.openRelay(name, SWAP, "prediction");
    const p = await preds.next<PredictionMessage>((m) => m.type === "prediction", 20_000, "prediction");
    expect(p).toMatchObject({ instId: SWAP, horizonSec: 60 });
    expect(p.predictedMid).toBeCloseTo(p.mid * Math.exp(p.predictedReturnBps / 1e4), 6);
    expect(p.low).toBeLessThanOrEqual(p.predictedMid);
    expect(p.high).toBeGreaterThanOrEqual(p.predictedMid);
    // the forecast is made on a book the book clients also saw
    const seen = books.books().map((b: BookMessage) => b.mid);
    expect(seen).toContain(p.mid);
    // prediction clients do not receive books, book clients do not receive predictions
    expect(preds.messages.some((m) => m.type === "book")).toBe(false);
    expect(books.messages.some((m) => m.type === "prediction")).toBe(false);

    const s = await preds.next<ScoreMessage>((m) => m.type === "score", 60_000, "score");
    expect(s.count).toBeGreaterThan(0);
    expect(s.horizonSec).toBe(60);
    expect(s.maeBps).toBeGreaterThanOrEqual(0);
    expect(s.rmseBps).toBeGreaterThanOrEqual(s.maeBps - 1e-9);
    expect(s.baselineRmseBps).toBeGreaterThanOrEqual(0);
    const st = await relayStats(name);
    expect(st.predictions).toBeGreaterThan(10);
    expect(st.model).toBe(`${(modelMeta as { name: string }).name}@${(modelMeta as { version: string }).version}`);
    books.close();
    preds.close();
  }, 90_000);
});
