/**
 * Upstream surprises (issue: reliability): frames the fault matrix never sent, each injected by the local exchange
 * into the relay's live upstream. Whatever the relay does (accept, resync or reconnect), every book a client
 * receives must equal the exchange's book at the same seqId, level for level, and carry the CRC32 of its own
 * levels; and the client must end on a live, verified book. Never a wrong book.
 */
import { describe, expect, it } from "vitest";
import type { BookMessage, StatusMessage } from "../src/protocol.js";
import { TestClient, compareWithExchange, exchange, relayStats, uniqueName } from "./helpers/ws-client.js";

const SWAP = "BTC-USDT-SWAP";

describe("upstream surprises", () => {
  it.each([
    ["a duplicate update (same seqId twice)", "duplicate", {}],
    ["a fresh snapshot mid-stream without a resubscribe", "snapshot", {}],
    ["updates out of order", "reorder", {}],
    ["a delete of a price level that does not exist", "delete-missing", {}],
    ["a frame of several MiB", "huge", { bytes: 3 * 1024 * 1024 }],
    ["a compressed binary frame", "binary", {}],
    ["an error event after a successful subscribe", "error-event", { code: "60012" }],
    ["a clock jump in exchange ts (+1 h)", "clock-jump", { jumpMs: 3_600_000 }],
  ] as const)("%s: no wrong book, back to a verified live book", async (_n, type, extra) => {
    const name = uniqueName(`surprise-${type}`);
    const c = await TestClient.openRelay(name, SWAP);
    await c.nextBook();
    const before = c.messages.length;
    expect(await exchange.fault({ type, after: 1, instId: SWAP, ...extra })).toBeGreaterThan(0); // armed on our upstream
    // Enough books after the fault for it to have fired and the relay to have dealt with it.
    const got: BookMessage[] = [];
    while (got.length < 8) got.push(await c.nextBook(20_000));
    const after = c.messages.slice(before);
    const statuses = after.filter((m): m is StatusMessage => m.type === "status");
    // Every book since the injection is the exchange's book for its seqId (checked level by level).
    const books = after.filter((m): m is BookMessage => m.type === "book");
    expect(await compareWithExchange(books)).toBeGreaterThanOrEqual(books.length - 2);
    // The stream ends live (whatever happened in between was told to the client as a status).
    const last = statuses.at(-1);
    if (last) expect(last.state).toBe("live");
    const st = await relayStats(name);
    expect(st.state).toBe("live");
    // A binary frame is not OKX v5's protocol: read as malformed, the book is resynced.
    if (type === "binary") expect(st.faults.malformed).toBeGreaterThanOrEqual(1);
    if (type === "clock-jump") {
      // The jump is in the data, not a fault: accepted without a resync; the books carry the shifted time.
      expect(statuses).toEqual([]);
      expect(books.at(-1)!.ts - Date.now()).toBeGreaterThan(3_000_000);
    }
    c.close();
  });
});
