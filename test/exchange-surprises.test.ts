/**
 * Upstream surprises the local exchange injects (tools/exchange/faults.ts): each is emitted exactly as specified,
 * seen by a raw WebSocket client. (How the relay handles them is tested in workerd.)
 */
import { inflateRawSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { applyBook, createBook } from "../src/okx/book.js";
import { parseOkxMessage, type OkxMessage } from "../src/okx/protocol.js";
import { parseFault } from "../tools/exchange/faults.js";
import { startExchange, type Exchange } from "../tools/exchange/server.js";
import { DATA } from "../tools/lib/captures.js";

type Books = Extract<OkxMessage, { kind: "books" }>;
const INST = "BTC-USDT-SWAP";

class Client {
  readonly frames: string[] = [];
  readonly binary: Buffer[] = [];
  /** Receive order of text (index into frames) and binary frames ("b" + index into binary). */
  readonly order: string[] = [];
  closed: { code: number; at: number } | null = null;
  private constructor(readonly ws: WebSocket) {
    ws.on("message", (d: Buffer, isBinary) => {
      if (isBinary) this.order.push(`b${this.binary.push(d) - 1}`);
      else this.order.push(String(this.frames.push(d.toString()) - 1));
    });
    ws.on("close", (code) => (this.closed = { code, at: Date.now() }));
  }
  static open(url: string): Promise<Client> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { maxPayload: 64 * 1024 * 1024 });
      ws.once("open", () => resolve(new Client(ws)));
      ws.once("error", reject);
    });
  }
  async until(pred: () => boolean, timeoutMs = 20_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!pred()) {
      if (Date.now() > end)
        throw new Error(`timeout; ${this.frames.length} frames, last ${this.frames.at(-1)?.slice(0, 120)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  books(): Books[] {
    return this.frames
      .filter((f) => f.startsWith('{"arg"'))
      .map((f) => parseOkxMessage(f))
      .filter((m): m is Books => m.kind === "books");
  }
  updates(): Books[] {
    return this.books().filter((b) => b.action === "update");
  }
  static async subscribed(url: string, n = 3): Promise<Client> {
    const c = await Client.open(url);
    c.ws.send(JSON.stringify({ op: "subscribe", args: [{ channel: "books", instId: INST }] }));
    await c.until(() => c.updates().length >= n);
    return c;
  }
}

let ex: Exchange;
beforeAll(async () => {
  ex = await startExchange({ replay: [DATA.btcSwap], port: 0, speed: 4, loop: true, connectionsPerSecond: 0 });
});
afterAll(async () => ex.close());

/** Apply every books push in order; returns the results (a correct stream applies without a fault). */
function applyAll(books: readonly Books[]) {
  const book = createBook(INST);
  return books.map((m) => applyBook(book, m.action, m.data));
}

describe("exchange-side upstream surprises", () => {
  it("duplicate: one update arrives twice, same seqId and prevSeqId, byte for byte", async () => {
    const c = await Client.subscribed(ex.url);
    const n = c.frames.length;
    expect(ex.inject(parseFault("duplicate:0"), "all", INST)).toBe(1);
    // wait for the duplicate and the push after it (it may be the newest frame when a fixed count is reached)
    const dupAt = () => c.frames.slice(n).findIndex((f, i, a) => i > 0 && f === a[i - 1]);
    await c.until(() => dupAt() > 0 && c.frames.length - n > dupAt() + 1);
    c.ws.close();
    const after = c.frames.slice(n);
    const k = dupAt();
    expect(k).toBeGreaterThan(0);
    const dup = parseOkxMessage(after[k]!) as Books;
    expect(dup.action).toBe("update");
    // exactly one duplicate; the chain otherwise continues
    expect(after.filter((f, i) => i > 0 && f === after[i - 1]).length).toBe(1);
    const next = parseOkxMessage(after[k + 1]!) as Books;
    expect(next.data.prevSeqId).toBe(dup.data.seqId);
  });

  it("snapshot: a fresh snapshot mid-stream without a resubscribe, equal to the book after the previous update", async () => {
    const c = await Client.subscribed(ex.url);
    ex.inject(parseFault("snapshot:0"), "all", INST);
    await c.until(
      () => c.books().filter((b) => b.action === "snapshot").length >= 2 && c.books().at(-1)!.action === "update",
    );
    c.ws.close();
    const books = c.books();
    const k = books.findIndex((b, i) => i > 0 && b.action === "snapshot");
    expect(c.frames.filter((f) => f.startsWith('{"event":"subscribe"')).length).toBe(1);
    expect(books[k]!.data.prevSeqId).toBe(-1);
    expect(books[k]!.data.seqId).toBe(books[k - 1]!.data.seqId);
    expect(books[k]!.data.bids.length).toBe(400);
    // the client's book just before equals the snapshot (top 400), and the stream goes on from it
    const mine = createBook(INST);
    for (const m of books.slice(0, k)) expect(applyBook(mine, m.action, m.data).ok).toBe(true);
    const snap = createBook(INST);
    applyBook(snap, "snapshot", books[k]!.data);
    expect(mine.bids.slice(0, 400).map((l) => l.px + l.sz)).toEqual(snap.bids.map((l) => l.px + l.sz));
    expect(applyAll(books).every((r) => r.ok)).toBe(true);
  });

  it("reorder: one update is held back and sent right after the next one", async () => {
    const c = await Client.subscribed(ex.url);
    const n = c.updates().length;
    ex.inject(parseFault("reorder:0"), "all", INST);
    await c.until(() => c.updates().length >= n + 4);
    c.ws.close();
    const u = c.updates();
    const breaks = u.map((m, i) => (i > 0 && m.data.prevSeqId !== u[i - 1]!.data.seqId ? i : -1)).filter((i) => i >= 0);
    // A B C with B held: A C B D -> C does not follow A, B does not follow C, D does not follow B
    expect(breaks.length).toBe(3);
    const [i] = breaks as [number];
    const [a, cc, b, d] = [u[i - 1]!, u[i]!, u[i + 1]!, u[i + 2]!];
    expect(b.data.prevSeqId).toBe(a.data.seqId);
    expect(cc.data.prevSeqId).toBe(b.data.seqId);
    expect(d.data.prevSeqId).toBe(cc.data.seqId);
    expect(cc.data.seqId!).toBeGreaterThan(b.data.seqId!);
  });

  it("delete-missing: one update also deletes a price level the book does not hold; applying it changes nothing", async () => {
    // A control client beside the faulted one: the same seqIds must carry the same levels but for the added delete.
    const control = await Client.subscribed(ex.url);
    ex.inject(parseFault("delete-missing:3"), "next");
    const c = await Client.subscribed(ex.url, 6);
    await control.until(() => control.updates().at(-1)!.data.seqId! >= c.updates().at(-1)!.data.seqId!);
    c.ws.close();
    control.ws.close();
    const ref = new Map(control.updates().map((m) => [m.data.seqId, m]));
    const book = createBook(INST);
    let diffs = 0;
    for (const m of c.books()) {
      const r = ref.get(m.data.seqId);
      if (m.action === "update" && r) {
        expect(m.data.bids).toEqual(r.data.bids);
        if (m.data.asks.length !== r.data.asks.length) {
          diffs++;
          expect(m.data.asks.slice(0, -1)).toEqual(r.data.asks);
          const [px, sz] = m.data.asks.at(-1)!;
          expect(sz).toBe("0");
          expect(book.asks.some((l) => l.px === px)).toBe(false);
          expect(ex.book(INST)!.asks.some((l) => l.px === px)).toBe(false);
        } else expect(m.data.asks).toEqual(r.data.asks);
      }
      expect(applyBook(book, m.action, m.data).ok).toBe(true); // the checksum still verifies
    }
    expect(diffs).toBe(1);
  });

  it("huge: one valid update of several MiB (default 4 MiB), whose padding deletes only absent levels", async () => {
    const c = await Client.subscribed(ex.url);
    ex.inject(parseFault("huge:0"), "all", INST);
    await c.until(() => c.frames.some((f) => f.length >= 4 * 1024 * 1024));
    await c.until(() => c.frames.at(-1)!.length < 1024 * 1024);
    c.ws.close();
    const big = c.frames.filter((f) => f.length >= 4 * 1024 * 1024);
    expect(big.length).toBe(1);
    expect(big[0]!.length).toBeLessThan(4.2 * 1024 * 1024);
    const m = parseOkxMessage(big[0]!) as Books;
    expect(m.action).toBe("update");
    expect(m.data.asks.length).toBeGreaterThan(100_000);
    expect(applyAll(c.books()).every((r) => r.ok)).toBe(true);
  });

  it("binary: one push arrives as a deflate-compressed binary frame, in its place in the stream", async () => {
    const c = await Client.subscribed(ex.url);
    ex.inject(parseFault("binary:0"), "all", INST);
    await c.until(() => c.binary.length === 1 && c.order.at(-1) !== "b0");
    c.ws.close();
    const text = inflateRawSync(c.binary[0]!).toString();
    const m = parseOkxMessage(text) as Books;
    expect(m.kind).toBe("books");
    const at = c.order.indexOf("b0");
    const before = parseOkxMessage(c.frames[Number(c.order[at - 1])]!) as Books;
    const after = parseOkxMessage(c.frames[Number(c.order[at + 1])]!) as Books;
    expect(m.data.prevSeqId).toBe(before.data.seqId);
    expect(after.data.prevSeqId).toBe(m.data.seqId);
  });

  it("client-idle: closes (4004) a client silent for idleMs although pushes flow; a pinging client stays", async () => {
    const silent = await Client.subscribed(ex.url);
    const pinging = await Client.subscribed(ex.url);
    const timer = setInterval(() => pinging.ws.send("ping"), 100);
    const t0 = Date.now();
    expect(ex.inject(parseFault({ type: "client-idle", idleMs: 400 }), "all", INST)).toBe(2);
    await silent.until(() => silent.closed !== null, 5000);
    const pushesBeforeClose = silent.frames.length;
    expect(silent.closed!.code).toBe(4004);
    expect(silent.closed!.at - t0).toBeGreaterThanOrEqual(390);
    expect(silent.closed!.at - t0).toBeLessThan(1500);
    expect(pushesBeforeClose).toBeGreaterThan(3); // data was flowing
    await new Promise((r) => setTimeout(r, 800));
    clearInterval(timer);
    expect(pinging.closed).toBeNull();
    pinging.ws.close();
  });

  it("error-event: an event:error (60018 by default, or the given code) on a subscribed connection; pushes go on", async () => {
    const c = await Client.subscribed(ex.url);
    ex.inject(parseFault({ type: "error-event", after: 1 }), "all", INST);
    await c.until(() => c.frames.some((f) => f.includes('"event":"error"')));
    const n = c.updates().length;
    await c.until(() => c.updates().length >= n + 2);
    ex.inject(parseFault({ type: "error-event", code: "50001" }), "all", INST);
    await c.until(() => c.frames.filter((f) => f.includes('"event":"error"')).length === 2);
    c.ws.close();
    const errs = c.frames.filter((f) => f.includes('"event":"error"')).map((f) => parseOkxMessage(f));
    expect(errs.map((e) => e.kind === "error" && e.code)).toEqual(["60018", "50001"]);
    expect(errs[0]).toMatchObject({ msg: expect.stringContaining(INST) });
    expect(c.frames.filter((f) => f.startsWith('{"event":"subscribe"')).length).toBe(1);
    expect(applyAll(c.books()).every((r) => r.ok)).toBe(true);
  });

  it("clock-jump: every ts from the fault on is shifted by jumpMs (1 h by default); seqIds unchanged", async () => {
    const c = await Client.subscribed(ex.url);
    const n = c.updates().length;
    ex.inject(parseFault({ type: "clock-jump", jumpMs: -7_200_000 }), "all", INST);
    await c.until(() => c.updates().length >= n + 4);
    c.ws.close();
    const u = c.updates();
    const gaps = u.slice(1).map((m, i) => +m.data.ts - +u[i]!.data.ts);
    const jumps = gaps.filter((g) => Math.abs(g) > 600_000);
    expect(jumps.length).toBe(1);
    expect(jumps[0]).toBeGreaterThan(-7_200_000 - 60_000);
    expect(jumps[0]).toBeLessThan(-7_200_000 + 60_000);
    expect(applyAll(c.books()).every((r) => r.ok)).toBe(true);
    expect(parseFault("clock-jump").jumpMs).toBeUndefined();
  });

  it("rejects bad fault parameters", () => {
    expect(() => parseFault({ type: "huge", bytes: 0 })).toThrow(/bytes/);
    expect(() => parseFault({ type: "error-event", code: "x" })).toThrow(/code/);
    expect(() => parseFault({ type: "client-idle", idleMs: -1 })).toThrow(/idleMs/);
    expect(() => parseFault({ type: "clock-jump", jumpMs: 1.5 })).toThrow(/jumpMs/);
  });
});
