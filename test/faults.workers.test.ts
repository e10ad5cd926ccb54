/**
 * Upstream fault matrix: each fault is injected through the local exchange; the relay must detect it, count it,
 * tell clients (status message), resync, and afterwards hold the exchange's book again (checksum-verified against
 * the checksum recorded in the capture for the same seqId).
 */
import { describe, expect, it } from "vitest";
import type { BookMessage, ErrorMessage, StatusMessage } from "../src/protocol.js";
import {
  TestClient,
  compareWithExchange,
  exchange,
  relayStats,
  sleep,
  uniqueName,
  until,
} from "./helpers/ws-client.js";

const SWAP = "BTC-USDT-SWAP";

/**
 * After recovery: books keep coming, each verifies against its own levels, equals the exchange's book at the same
 * seqId level for level, and carries the checksum the capture recorded for that seqId.
 */
async function expectInSync(c: TestClient): Promise<void> {
  const got: BookMessage[] = [];
  for (let i = 0; i < 4; i++) got.push(await c.nextBook());
  expect(await compareWithExchange(got)).toBeGreaterThanOrEqual(3);
  // Later entries win: after a seqId reset an old seqId may come round again.
  const recent = new Map((await exchange.recent(SWAP)).map((r) => [r.seqId, r.checksum]));
  let compared = 0;
  for (const b of got) {
    const rec = recent.get(b.seqId!);
    if (rec !== undefined) {
      expect(b.checksum).toBe(rec);
      compared++;
    }
  }
  expect(compared).toBeGreaterThan(0);
}

async function waitState(c: TestClient, state: StatusMessage["state"], timeoutMs = 10_000): Promise<StatusMessage> {
  return c.next<StatusMessage>((m) => m.type === "status" && m.state === state, timeoutMs, `status ${state}`);
}

describe("upstream fault matrix", () => {
  it.each([
    ["sequence gap", "gap", "gap"],
    ["checksum mismatch", "checksum", "checksum"],
    ["malformed (truncated) frame", "malformed", "malformed"],
  ] as const)("%s -> resync, clients told, book verified again", async (_n, type, counter) => {
    const name = uniqueName(type);
    const c = await TestClient.openRelay(name, SWAP);
    await c.nextBook();
    await exchange.fault({ type, after: 1, instId: SWAP });
    const s = await waitState(c, "resyncing");
    expect(s.reason).toBe(counter);
    await waitState(c, "live");
    await expectInSync(c);
    const st = await relayStats(name);
    expect(st.faults[counter]).toBeGreaterThanOrEqual(1);
    expect(st.resyncs).toBeGreaterThanOrEqual(1);
    expect(st.state).toBe("live");
    c.close();
  });

  it("notice 64008 -> immediate reconnect before OKX closes the socket", async () => {
    const name = uniqueName("notice");
    const c = await TestClient.openRelay(name, SWAP);
    await c.nextBook();
    await exchange.fault({ type: "notice", after: 1, instId: SWAP, closeAfterMs: 3000 });
    const s = await waitState(c, "resyncing");
    expect(s.reason).toMatch(/^notice 64008/);
    const t0 = Date.now();
    await waitState(c, "live");
    expect(Date.now() - t0).toBeLessThan(3000); // back before the old socket would have been closed
    await expectInSync(c);
    const st = await relayStats(name);
    expect(st.faults.notice).toBe(1);
    expect(st.reconnects).toBeGreaterThanOrEqual(1);
    c.close();
  });

  it("stall (no data, no pong) -> keepalive ping detects it, reconnect", async () => {
    const name = uniqueName("stall");
    const c = await TestClient.openRelay(name, SWAP);
    await c.nextBook();
    await exchange.fault({ type: "stall", after: 0, instId: SWAP });
    const s = await waitState(c, "resyncing", 15_000);
    expect(s.reason).toMatch(/stalled/);
    await waitState(c, "live");
    await expectInSync(c);
    expect((await relayStats(name)).faults.stall).toBeGreaterThanOrEqual(1);
    c.close();
  });

  it("OKX seqId reset (seqId < prevSeqId) is accepted without a resync", async () => {
    const name = uniqueName("seqreset");
    const c = await TestClient.openRelay(name, SWAP);
    const before = await c.nextBook();
    const resyncsBefore = (await relayStats(name)).resyncs;
    await exchange.seqReset(SWAP);
    const after = await c.next<BookMessage>(
      (m) => m.type === "book" && m.seqId !== null && m.seqId < before.seqId!,
      10_000,
      "book after reset",
    );
    expect(after.seqId).toBeLessThan(before.seqId!);
    // the book across the reset is the exchange's, level for level
    expect(await compareWithExchange([after])).toBe(1);
    await expectInSync(c);
    const st = await relayStats(name);
    expect(st.resyncs).toBe(resyncsBefore);
    expect(st.state).toBe("live");
    c.close();
  });

  it("connection refused for a while -> backoff retries until the exchange accepts again", async () => {
    const name = uniqueName("refused");
    const c = await TestClient.openRelay(name, SWAP);
    await c.nextBook();
    await exchange.refuse(1500);
    await exchange.fault({ type: "drop", after: 0, instId: SWAP });
    await waitState(c, "down");
    await waitState(c, "live", 15_000);
    await expectInSync(c);
    const st = await relayStats(name);
    expect(st.connectFailures).toBeGreaterThanOrEqual(1);
    c.close();
  });

  it("unknown instrument -> clear error to clients, close 4004, no reconnect storm", async () => {
    const name = uniqueName("unknown");
    const since = await exchange.lastConnectionId();
    const c = await TestClient.openRelay(name, "NOPE-USDT");
    const err = await c.next<ErrorMessage>((m) => m.type === "error", 10_000, "error");
    expect(err).toMatchObject({ code: "unknown_instrument", fatal: true });
    expect(err.message).toMatch(/NOPE-USDT/);
    expect((await c.waitClosed()).code).toBe(4004);
    // The exchange saw exactly one subscribe attempt for NOPE-USDT (refused), on a connection since closed.
    const seen = await exchange.connections(since);
    const mine = seen.connections.filter((r) => r.refused["NOPE-USDT"] !== undefined);
    expect(mine.map((r) => r.refused["NOPE-USDT"])).toEqual([1]);
    // A second client within the back-off window is refused without touching the exchange: no connection opened,
    // no subscribe sent.
    const before = await relayStats(name);
    const lastId = await exchange.lastConnectionId();
    const c2 = await TestClient.openRelay(name, "NOPE-USDT");
    await c2.next((m) => m.type === "error", 5000, "error");
    expect((await c2.waitClosed()).code).toBe(4004);
    await sleep(300);
    const later = await exchange.connections(lastId);
    expect(later.connections).toEqual([]);
    expect(later.refused["NOPE-USDT"]).toBe(seen.refused["NOPE-USDT"]);
    const after = await relayStats(name);
    expect(after.faults["upstream-error"]).toBe(before.faults["upstream-error"]);
    expect(after.state).toBe("idle");
  });
});

describe("client handling", () => {
  it("a client that stops acking is conflated to the latest book; others unaffected", async () => {
    const name = uniqueName("slow");
    const slow = await TestClient.openRelay(name, SWAP);
    const fast = await TestClient.openRelay(name, SWAP);
    const first = await slow.nextBook();
    slow.send(JSON.stringify({ op: "ack", seq: first.seq }));
    await fast.nextBook();
    // ~19 msg/s: wait until the relay is well past the window
    await fast.next<BookMessage>(
      (m) => m.type === "book" && m.seq > first.seq + 16 + 8,
      15_000,
      "fast client far ahead",
    );
    const slowBooks = slow.books().filter((b) => b.seq > first.seq);
    expect(slowBooks.length).toBeLessThanOrEqual(16);
    const st = await relayStats(name);
    expect(st.conflated).toBeGreaterThanOrEqual(1);
    // Ack: the slow client jumps straight to the latest book.
    const latestFast = fast.books().at(-1)!.seq;
    slow.send(JSON.stringify({ op: "ack", seq: slowBooks.at(-1)!.seq }));
    const caughtUp = await slow.next<BookMessage>((m) => m.type === "book" && m.seq >= latestFast, 5000, "latest book");
    expect(caughtUp.seq).toBeGreaterThan(slowBooks.at(-1)!.seq + 1);
    // The fast client received every seq with no hole.
    const fb = fast.books();
    for (let i = 1; i < fb.length; i++) expect(fb[i]!.seq).toBe(fb[i - 1]!.seq + 1);
    slow.close();
    fast.close();
  });

  it.each([
    ["garbage text gets an error message", "hello", "bad_message"],
    ["unknown op gets an error message", JSON.stringify({ op: "subscribe", args: [] }), "bad_message"],
  ])("%s", async (_n, text, code) => {
    const c = await TestClient.openRelay(uniqueName("bad"), SWAP);
    await c.nextBook();
    c.send(text);
    const e = await c.next<ErrorMessage>((m) => m.type === "error", 5000, "error");
    expect(e).toMatchObject({ code, fatal: false });
    await c.nextBook(); // still served
    c.close();
  });

  it("oversized frame closes with 1009", async () => {
    const c = await TestClient.openRelay(uniqueName("big"), SWAP);
    await c.nextBook();
    c.send("x".repeat(5000));
    expect((await c.waitClosed()).code).toBe(1009);
  });

  it("a binary frame closes with 1003", async () => {
    const c = await TestClient.openRelay(uniqueName("binary"), SWAP);
    await c.nextBook();
    c.ws.send(new TextEncoder().encode(JSON.stringify({ op: "ack", seq: 1 })));
    expect((await c.waitClosed()).code).toBe(1003);
    expect(c.messages.some((m) => m.type === "error")).toBe(false);
  });

  it("10 invalid frames get 10 bad_message errors and the socket stays; the 11th closes it with 1008", async () => {
    const c = await TestClient.openRelay(uniqueName("garbage"), SWAP);
    await c.nextBook();
    for (let i = 0; i < 10; i++) c.send("nope");
    await until(() => c.messages.filter((m) => m.type === "error").length === 10, 5000, "10 bad_message errors");
    expect(
      c.messages
        .filter((m) => m.type === "error")
        .every((m) => m.type === "error" && m.code === "bad_message" && !m.fatal),
    ).toBe(true);
    const last = c.books().at(-1)!.seq;
    await c.next<BookMessage>((m) => m.type === "book" && m.seq > last, 10_000, "a book after the 10th"); // still served
    expect(c.closed).toBeNull();
    c.send("nope");
    expect((await c.waitClosed()).code).toBe(1008);
    expect(c.messages.filter((m) => m.type === "error").length).toBe(10);
  });

  it("closes the upstream a grace period after the last client leaves, reopens on demand", async () => {
    const name = uniqueName("grace");
    const c = await TestClient.openRelay(name, SWAP);
    await c.nextBook();
    c.close();
    await sleep(1200); // grace is 300 ms in tests
    expect((await relayStats(name)).state).toBe("idle");
    const d = await TestClient.openRelay(name, SWAP);
    await d.nextBook();
    expect((await relayStats(name)).state).toBe("live");
    d.close();
  });
});
