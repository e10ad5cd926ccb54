/**
 * POST /simulate/trade inside workerd with the real bindings: instrument specs resolved from the local exchange's
 * REST endpoint (real OKX instruments capture), and the live book taken from the relay when `orderbook` is omitted.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { app } from "../src/index.js";
import { TestClient } from "./helpers/ws-client.js";

/** The parts of the response these tests read. */
interface SimBody {
  fill: { avgPrice: number; filledQuote: number; bestPrice: number; [k: string]: unknown };
  order: Record<string, unknown>;
  [k: string]: unknown;
}

const post = (body: unknown) =>
  app.request(
    "/simulate/trade",
    { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) },
    env,
  );

describe("POST /simulate/trade in the Worker", () => {
  it("resolves the instrument spec from OKX REST (local exchange) and fills a sent book", async () => {
    const res = await post({
      instId: "BTC-USDT",
      side: "buy",
      size: 0.5,
      orderbook: {
        bids: [["30000", "1"]],
        asks: [
          ["30001", "0.2"],
          ["30002", "1"],
        ],
      },
    });
    const body = (await res.json()) as SimBody;
    expect(res.status, JSON.stringify(body)).toBe(200);
    // 0.2 @ 30001 + 0.3 @ 30002 = 15000.8 quote; VWAP 30001.6
    expect(body.fill).toMatchObject({
      filledBase: 0.5,
      bestPrice: 30001,
      worstPrice: 30002,
      levelsConsumed: 2,
      fullyFilled: true,
    });
    expect(body.fill.avgPrice).toBeCloseTo(30001.6, 9);
    expect(body.fill.filledQuote).toBeCloseTo(15000.8, 9);
    // spec came from the exchange's REST capture: BTC-USDT lotSz 0.00000001, minSz 0.00001 (2022-05-13)
    expect(body.order).toMatchObject({ lotSz: 0.00000001, minSz: 0.00001 });
  });

  it("uses the relay's live book when orderbook is omitted, and says so", async () => {
    const c = await TestClient.open("/ws/okx?instId=BTC-USDT-SWAP");
    const book = await c.nextBook();
    const res = await post({ instId: "BTC-USDT-SWAP", side: "sell", contracts: 10 });
    const body = (await res.json()) as SimBody;
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(JSON.stringify(body)).toMatch(/live/i);
    // A sell walks the bids of the relay's book: best price within a few ticks of the book the client saw.
    const best = Number(book.bids[0]![0]);
    expect(Math.abs(body.fill.bestPrice - best) / best).toBeLessThan(0.002);
    expect(body.fill.filledContracts).toBe(10);
    c.close();
  });

  it("no live book and no orderbook -> 503 with a hint", async () => {
    const res = await post({ instId: "ETH-USDT-SWAP", side: "buy", contracts: 1 });
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: { message: string } }).error.message.length).toBeGreaterThan(10);
  });
});
