import { describe, expect, it } from "vitest";
import { okxChecksum } from "../src/okx/checksum.js";
import type { StatusMessage } from "../src/protocol.js";
import { TestClient, compareWithExchange, exchange, relayStats, sleep, uniqueName } from "./helpers/ws-client.js";

const SWAP = "BTC-USDT-SWAP";

describe("relay: /ws/okx fed by the local exchange", () => {
  it("sends status and books; the relay's top-25 checksum equals the one OKX recorded for the same message", async () => {
    const c = await TestClient.open(`/ws/okx?instId=BTC-USDT`);
    const status = await c.next<StatusMessage>((m) => m.type === "status");
    expect(status.instId).toBe("BTC-USDT");
    // BTC-USDT has books for ~11 s of each 37 s loop of its capture (replayed x2): allow for the quiet part.
    const first = await c.nextBook(30_000);
    expect(first.instId).toBe("BTC-USDT");
    expect(first.depth).toBe(25);
    expect(first.bids.length).toBe(25);
    expect(Number(first.bids[0]![0])).toBeLessThan(Number(first.asks[0]![0]));
    expect(first.mid).toBeCloseTo((Number(first.bids[0]![0]) + Number(first.asks[0]![0])) / 2, 9);
    // The client can verify its copy: the message's levels hash to its checksum.
    expect(
      okxChecksum(
        first.bids.map(([px, sz]) => ({ px, sz })),
        first.asks.map(([px, sz]) => ({ px, sz })),
      ),
    ).toBe(first.checksum);
    // Collect updates, then compare with the checksums recorded in the real OKX capture (2022-05-13, BTC-USDT).
    for (let i = 0; i < 10; i++) await c.nextBook(30_000);
    const recent = new Map((await exchange.recent("BTC-USDT")).map((r) => [r.seqId, r.checksum]));
    const updates = c.books().filter((b) => recent.has(b.seqId!) && recent.get(b.seqId!) !== undefined);
    expect(updates.length).toBeGreaterThanOrEqual(5);
    for (const b of updates) expect(b.checksum).toBe(recent.get(b.seqId!));
    c.close();
  });

  it("serves ?depth= up to 400 levels: every level equals the exchange's book at the same seqId", async () => {
    const c = await TestClient.open(`/ws/okx?instId=${SWAP}&depth=400`);
    for (let i = 0; i < 12; i++) await c.nextBook();
    c.close();
    const books = c.books();
    expect(books.every((b) => b.depth === 400 && b.bids.length === 400 && b.asks.length === 400)).toBe(true);
    // Levels 1..400 of both sides, original strings, against the exchange's own book after the same push.
    expect(await compareWithExchange(books)).toBeGreaterThanOrEqual(10);
  });

  it("200 clients all receive the same updates (one serialization, same bytes)", async () => {
    const name = uniqueName("fanout");
    const clients = await Promise.all(
      Array.from({ length: 200 }, () => TestClient.openRelay(name, SWAP, "book", 25, 200)),
    );
    await Promise.all(clients.map((c) => c.nextBook()));
    await sleep(1500);
    const ref = clients[0]!.books();
    expect(ref.length).toBeGreaterThan(5);
    const lastSeq = ref.at(-1)!.seq;
    for (const c of clients) {
      const mine = c.books();
      // Every client joined before the reference's first message or at most a few messages later; compare the
      // common range message by message.
      const common = mine.filter((b) => b.seq >= ref[0]!.seq && b.seq <= lastSeq - 2);
      const refCommon = ref.filter((b) => b.seq >= mine[0]!.seq && b.seq <= lastSeq - 2);
      expect(common.map((b) => [b.seq, b.checksum])).toEqual(refCommon.map((b) => [b.seq, b.checksum]));
      // seq has no holes: every update reached every client
      for (let i = 1; i < mine.length; i++) expect(mine[i]!.seq).toBe(mine[i - 1]!.seq + 1);
    }
    for (const c of clients) c.close();
  });

  it("reconnects after the exchange drops the socket; clients keep getting books that match the exchange", async () => {
    const name = uniqueName("drop");
    const c = await TestClient.openRelay(name, SWAP);
    await c.nextBook();
    const armed = await exchange.fault({ type: "drop", after: 2, instId: SWAP });
    expect(armed).toBeGreaterThanOrEqual(1);
    const down = await c.next<StatusMessage>((m) => m.type === "status" && m.state === "down", 10_000, "status down");
    expect(down.reason).toMatch(/closed/);
    await c.next<StatusMessage>((m) => m.type === "status" && m.state === "live", 10_000, "status live again");
    const live = c.messages.length;
    for (let i = 0; i < 4; i++) await c.nextBook();
    const after = c.books().filter((b) => c.messages.indexOf(b) >= live);
    expect(await compareWithExchange(after)).toBeGreaterThanOrEqual(3);
    const stats = await relayStats(name);
    expect(stats.state).toBe("live");
    c.close();
  });
});
