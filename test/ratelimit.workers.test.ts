/** Many instruments (re)connecting at once respect OKX's 3 connections/second, and all of them go live. */
import { describe, expect, it } from "vitest";
import { TestClient, exchange, uniqueName } from "./helpers/ws-client.js";

// Every instrument the test exchange replays, twice (two relays each): 8 upstream connections at once.
const INSTRUMENTS = ["BTC-USDT", "BTC-USD-220527", "UNI-USD-SWAP", "BTC-USDT-SWAP"].flatMap((id) => [id, id]);

describe("upstream connection rate", () => {
  it("8 relays opening together connect at most 3 per second and all go live", async () => {
    const since = await exchange.lastConnectionId();
    const t0 = Date.now();
    const clients = await Promise.all(INSTRUMENTS.map((id) => TestClient.openRelay(uniqueName(`rate-${id}`), id)));
    await Promise.all(clients.map((c) => c.next((m) => m.type === "status" && m.state === "live", 20_000, "live")));
    const accepted = (await exchange.state()).acceptedAt.filter((t) => t >= t0 - 50);
    expect(accepted.length).toBeGreaterThanOrEqual(INSTRUMENTS.length);
    accepted.sort((a, b) => a - b);
    for (let i = 3; i < accepted.length; i++) expect(accepted[i]! - accepted[i - 3]!).toBeGreaterThanOrEqual(1000);
    // The exchange's log: exactly one upstream connection per relay, each subscribing its instrument once.
    const log = await exchange.connections(since);
    expect(log.connections.length).toBe(INSTRUMENTS.length);
    expect(log.connections.map((r) => Object.entries(r.subscribes)).sort()).toEqual(
      INSTRUMENTS.map((id) => [[id, 1]]).sort(),
    );
    const opened = log.connections.map((r) => r.openedAt).sort((a, b) => a - b);
    for (let i = 3; i < opened.length; i++) expect(opened[i]! - opened[i - 3]!).toBeGreaterThanOrEqual(1000);
    for (const c of clients) c.close();
  });
});
