/** The local OKX exchange, driven by a real WebSocket client in Node. */
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import WebSocket from "ws";
import { applyBook, createBook, topLevels } from "../src/okx/book.js";
import { okxChecksum } from "../src/okx/checksum.js";
import { parseOkxMessage, type OkxMessage } from "../src/okx/protocol.js";
import { startExchange, type Exchange } from "../tools/exchange/server.js";
import { FAULT_TYPES, parseFault } from "../tools/exchange/faults.js";
import { selfSignedCert } from "../tools/exchange/tls.js";
import { DATA, REPO_ROOT } from "../tools/lib/captures.js";

class Client {
  readonly frames: string[] = [];
  /** Binary frames, kept apart (OKX's v5 public socket sends text only). */
  readonly binary: Buffer[] = [];
  closed: number | null = null;
  private waiters: (() => void)[] = [];
  private constructor(readonly ws: WebSocket) {
    ws.on("message", (d: Buffer, isBinary) => {
      if (isBinary) this.binary.push(d);
      else this.frames.push(d.toString());
      for (const w of this.waiters.splice(0)) w();
    });
    ws.on("close", (code) => {
      this.closed = code;
      for (const w of this.waiters.splice(0)) w();
    });
  }
  static open(url: string): Promise<Client> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      const c = new Client(ws);
      ws.once("open", () => resolve(c));
      ws.once("error", reject);
    });
  }
  async until(pred: () => boolean, timeoutMs = 20_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!pred()) {
      if (Date.now() > end)
        throw new Error(`timeout; ${this.frames.length} frames, last ${this.frames.at(-1)?.slice(0, 120)}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 50);
      });
    }
  }
  parsed(): OkxMessage[] {
    return this.frames.map((f) => {
      try {
        return parseOkxMessage(f);
      } catch {
        return { kind: "other", raw: f } as OkxMessage;
      }
    });
  }
  books() {
    return this.parsed().filter((m): m is Extract<OkxMessage, { kind: "books" }> => m.kind === "books");
  }
  subscribe(instId: string, channel = "books") {
    this.ws.send(JSON.stringify({ op: "subscribe", args: [{ channel, instId }] }));
  }
}

let ex: Exchange;
beforeAll(async () => {
  ex = await startExchange({
    replay: [DATA.okx20220227, DATA.okx20220513],
    port: 0,
    speed: 4,
    loop: true,
    idleTimeoutMs: 1500,
    connectionsPerSecond: 0,
  });
});
afterAll(async () => ex.close());

describe("local OKX exchange", () => {
  it("loads the real captures: 10 + 3 book instruments, UNI-USD-SWAP in both (played one after the other)", () => {
    expect(ex.timeline.bookInstruments.size).toBe(12);
    const uni = ex.timeline.events.filter(
      (e) => e.kind === "books" && e.instId === "UNI-USD-SWAP" && e.action === "snapshot",
    );
    // 2 snapshots in the 2022-02-27 capture, then the 2022-05-13 one, strictly later in replay time
    expect(uni.length).toBe(3);
    const firstFileEnd = Math.max(
      ...ex.timeline.events.filter((e) => e.kind === "books" && e.instId === "ELON-USDT").map((e) => e.t),
    );
    expect(uni[2]!.t).toBeGreaterThan(firstFileEnd);
    expect(ex.timeline.bookInstruments.has("ELON-USDT")).toBe(true);
    expect(ex.timeline.bookInstruments.has("BTC-USDT")).toBe(true);
  });

  it("acks subscribe, sends a snapshot of the current book, then updates with a continuous seqId chain and valid checksums", async () => {
    const c = await Client.open(ex.url);
    c.subscribe("ELON-USDT");
    await c.until(() => c.books().length >= 60);
    const msgs = c.parsed();
    expect(msgs[0]).toMatchObject({ kind: "subscribed", arg: { channel: "books", instId: "ELON-USDT" } });
    const books = c.books();
    expect(books[0]!.action).toBe("snapshot");
    expect(books[0]!.data.prevSeqId).toBe(-1);
    const book = createBook("ELON-USDT");
    let verified = 0;
    for (let i = 0; i < books.length; i++) {
      const m = books[i]!;
      if (i > 0 && m.action === "update") expect(m.data.prevSeqId).toBe(books[i - 1]!.data.seqId);
      const r = applyBook(book, m.action, m.data);
      expect(r.ok).toBe(true);
      if (m.data.checksum) verified++;
    }
    expect(verified).toBe(books.length);
    c.ws.close();
  });

  it("only sends instruments the client subscribed to; trades channel too", async () => {
    const c = await Client.open(ex.url);
    c.subscribe("UNI-USD-SWAP");
    c.subscribe("BTC-USDT", "trades");
    await c.until(() => c.books().length >= 5 && c.parsed().some((m) => m.kind === "trades"), 15_000);
    expect(new Set(c.books().map((b) => b.arg.instId))).toEqual(new Set(["UNI-USD-SWAP"]));
    const trades = c.parsed().filter((m) => m.kind === "trades");
    expect(trades.every((t) => t.kind === "trades" && t.arg.instId === "BTC-USDT")).toBe(true);
    c.ws.close();
  });

  it("late subscribers get a snapshot equal to the exchange's book (same checksum)", async () => {
    // Own exchange: in the shared one ELON-USDT is silent while the second capture plays.
    const ex = await startExchange({
      replay: [DATA.okx20220227],
      port: 0,
      speed: 4,
      loop: true,
      connectionsPerSecond: 0,
    });
    onTestFinished(() => ex.close());
    const a = await Client.open(ex.url);
    a.subscribe("ELON-USDT");
    await a.until(() => a.books().length >= 20);
    const b = await Client.open(ex.url);
    b.subscribe("ELON-USDT");
    await b.until(() => b.books().length >= 1);
    const snap = b.books()[0]!;
    const book = createBook("ELON-USDT");
    applyBook(book, "snapshot", snap.data);
    expect(okxChecksum(book.bids, book.asks)).toBe(snap.data.checksum);
    // b's snapshot is a's book at the same seqId, level for level
    await a.until(() => a.books().some((m) => m.data.seqId === snap.data.seqId));
    const chain = createBook("ELON-USDT");
    for (const m of a.books()) {
      expect(applyBook(chain, m.action, m.data).ok).toBe(true);
      if (m.data.seqId === snap.data.seqId) break;
    }
    expect(chain.seqId).toBe(snap.data.seqId);
    expect(topLevels(chain.bids, 400)).toEqual(topLevels(book.bids, 400));
    expect(topLevels(chain.asks, 400)).toEqual(topLevels(book.asks, 400));
    expect(book.bids.length).toBeGreaterThan(25);
    a.ws.close();
    b.ws.close();
  });

  it("replays with live-looking timestamps (captured intervals kept) unless told to keep the originals", async () => {
    const c = await Client.open(ex.url);
    c.subscribe("ELON-USDT");
    await c.until(() => c.books().length >= 1); // the snapshot of the replayed book carries its (shifted) ts
    const ts = c.books().map((b) => +b.data.ts);
    for (const t of ts) expect(Math.abs(t - Date.now())).toBeLessThan(120_000);
    c.ws.close();
    const orig = await startExchange({
      replay: [DATA.okx20220513],
      port: 0,
      speed: 4,
      originalTimestamps: true,
      connectionsPerSecond: 0,
    });
    try {
      const d = await Client.open(orig.url);
      d.subscribe("BTC-USDT");
      await d.until(() => d.books().length >= 1);
      expect(new Date(+d.books()[0]!.data.ts).toISOString().slice(0, 10)).toBe("2022-05-13");
      d.ws.close();
    } finally {
      await orig.close();
    }
  });

  it("serves OKX REST instruments from the real capture, with BTC-USDT-SWAP's current lot size", async () => {
    const r = (await (
      await fetch(`${ex.httpUrl}/api/v5/public/instruments?instType=SWAP&instId=BTC-USDT-SWAP`)
    ).json()) as { code: string; data: Record<string, string>[] };
    expect(r.code).toBe("0");
    expect(r.data[0]).toMatchObject({
      instId: "BTC-USDT-SWAP",
      ctVal: "0.01",
      ctType: "linear",
      lotSz: "0.01",
      minSz: "0.01",
      tickSz: "0.1",
    });
    const spot = (await (
      await fetch(`${ex.httpUrl}/api/v5/public/instruments?instType=SPOT&instId=BTC-USDT`)
    ).json()) as { data: Record<string, string>[] };
    expect(spot.data[0]).toMatchObject({ lotSz: "0.00000001", minSz: "0.00001" });
  });

  it("answers ping with pong and errors OKX-style", async () => {
    const c = await Client.open(ex.url);
    c.ws.send("ping");
    c.ws.send("{not json");
    c.ws.send(JSON.stringify({ op: "subscribe", args: [{ channel: "candle1m", instId: "BTC-USDT" }] }));
    c.ws.send(JSON.stringify({ op: "subscribe", args: [{ channel: "books", instId: "NOPE-USDT" }] }));
    c.ws.send(JSON.stringify({ op: "login", args: [] }));
    await c.until(() => c.frames.length >= 5);
    expect(c.frames[0]).toBe("pong");
    const errs = c.parsed().filter((m) => m.kind === "error");
    expect(errs.map((e) => e.kind === "error" && e.code)).toEqual(["60012", "60018", "60018", "60012"]);
    c.ws.close();
  });

  it("closes idle connections (no traffic for the idle timeout, 30 s in production)", async () => {
    const c = await Client.open(ex.url);
    await c.until(() => c.closed !== null, 5000);
    expect(c.closed).toBe(4004);
  });

  it.each([
    ["drop", (c: Client) => c.closed !== null],
    ["notice", (c: Client) => c.parsed().some((m) => m.kind === "notice" && m.code === "64008") && c.closed !== null],
  ] as const)("fault %s", async (type, done) => {
    const c = await Client.open(ex.url);
    c.subscribe("ELON-USDT");
    await c.until(() => c.books().length >= 2);
    ex.inject(parseFault({ type, after: 2, closeAfterMs: 100 }), "all", "ELON-USDT");
    await c.until(() => done(c), 10_000);
  });

  it("fault gap: one update is missing from the chain", async () => {
    const c = await Client.open(ex.url);
    c.subscribe("ELON-USDT");
    await c.until(() => c.books().length >= 2);
    ex.inject(parseFault("gap:1"), "all", "ELON-USDT");
    await c.until(() => c.books().length >= 8);
    const b = c.books();
    const breaks = b.filter((m, i) => i > 0 && m.action === "update" && m.data.prevSeqId !== b[i - 1]!.data.seqId);
    expect(breaks.length).toBe(1);
    c.ws.close();
  });

  it("fault checksum: one update carries a wrong checksum", async () => {
    const c = await Client.open(ex.url);
    c.subscribe("ELON-USDT");
    await c.until(() => c.books().length >= 2);
    ex.inject(parseFault("checksum:0"), "all", "ELON-USDT");
    await c.until(() => c.books().length >= 6);
    const book = createBook("X");
    const faults = c
      .books()
      .map((m) => applyBook(book, m.action, m.data))
      .filter((r) => !r.ok);
    expect(faults[0]).toMatchObject({ ok: false, fault: "checksum" });
    c.ws.close();
  });

  it("fault malformed: a truncated frame", async () => {
    const c = await Client.open(ex.url);
    c.subscribe("ELON-USDT");
    await c.until(() => c.books().length >= 2);
    ex.inject(parseFault("malformed:0"), "all", "ELON-USDT");
    await c.until(() => c.frames.some((f) => f.startsWith("{") && !f.endsWith("}")));
    expect(() => parseOkxMessage(c.frames.find((f) => !f.endsWith("}") && f !== "pong")!)).toThrow();
    c.ws.close();
  });

  it("fault stall: nothing more, not even pong", async () => {
    const c = await Client.open(ex.url);
    c.subscribe("ELON-USDT");
    await c.until(() => c.books().length >= 2);
    ex.inject(parseFault("stall:0"), "all", "ELON-USDT");
    await new Promise((r) => setTimeout(r, 100));
    const n = c.frames.length;
    c.ws.send("ping");
    await new Promise((r) => setTimeout(r, 600));
    expect(c.frames.length).toBe(n);
    c.ws.close();
  });

  it("documents every fault type in `npm run exchange -- --help`", () => {
    const r = spawnSync(process.execPath, ["--import", "tsx", resolve(REPO_ROOT, "tools/exchange/cli.ts"), "--help"], {
      encoding: "utf8",
      cwd: REPO_ROOT,
    });
    expect(r.status).toBe(0);
    for (const t of FAULT_TYPES) expect(r.stdout, t).toMatch(new RegExp(`^  ${t} +\\S`, "m"));
    expect(r.stdout).toContain("/__control/connections");
  });

  it("rejects faults it does not know", () => {
    expect(() => parseFault("explode:1")).toThrow(/unknown fault type/);
    expect(() => parseFault({ type: "drop", after: -1 })).toThrow();
  });
});

describe("local OKX exchange: connection limit and refusals", () => {
  it("allows 3 new connections per second, like OKX, and refuses on demand", async () => {
    const ex2 = await startExchange({ replay: [DATA.okx20220513], port: 0, speed: 1 });
    try {
      const results = await Promise.allSettled(Array.from({ length: 5 }, () => Client.open(ex2.url)));
      expect(results.filter((r) => r.status === "fulfilled").length).toBe(3);
      for (const r of results) if (r.status === "fulfilled") r.value.ws.close();
      await new Promise((r) => setTimeout(r, 1100));
      ex2.refuse(500);
      await expect(Client.open(ex2.url)).rejects.toThrow(/503/);
      await new Promise((r) => setTimeout(r, 600));
      const ok = await Client.open(ex2.url);
      ok.ws.close();
      expect(ex2.stats().rejectedConnections).toBe(3);
    } finally {
      await ex2.close();
    }
  });
});

describe("local OKX exchange: books depth, books5 and bbo-tbt (what real clients subscribe to)", () => {
  // The bundled BTC-USDT-SWAP stream holds 1,600+ levels a side: deeper than OKX's 400-level `books` view.
  let btc: Exchange;
  beforeAll(async () => {
    btc = await startExchange({
      replay: [DATA.btcSwap],
      port: 0,
      speed: 8,
      loop: true,
      connectionsPerSecond: 0,
      bookHistory: 4000,
    });
  });
  afterAll(async () => btc.close());

  it("caps the books snapshot at 400 levels a side; a subscriber's top 400 equals the exchange's at every seqId", async () => {
    const c = await Client.open(btc.url);
    c.subscribe("BTC-USDT-SWAP");
    await c.until(() => c.books().length >= 400, 60_000);
    c.ws.close();
    const books = c.books();
    expect(books[0]!.action).toBe("snapshot");
    expect(books[0]!.data.bids.length).toBe(400);
    expect(books[0]!.data.asks.length).toBe(400);
    expect(btc.book("BTC-USDT-SWAP")!.bids.length).toBeGreaterThan(1000);
    const mine = createBook("BTC-USDT-SWAP");
    let compared = 0;
    let deeper = 0;
    for (const m of books) {
      const r = applyBook(mine, m.action, m.data);
      expect(r.ok, JSON.stringify(r)).toBe(true);
      const ex = btc.view("BTC-USDT-SWAP", 400, m.data.seqId!)!;
      expect(ex, `exchange kept no book at seqId ${m.data.seqId}`).toBeDefined();
      // Levels 1..400 of both sides, strings as sent (a missed re-entry shows up here long before the checksum).
      expect(topLevels(mine.bids, 400)).toEqual(ex.bids);
      expect(topLevels(mine.asks, 400)).toEqual(ex.asks);
      compared++;
      if (mine.bids.length > 400 || mine.asks.length > 400) deeper++;
    }
    expect(compared).toBe(books.length);
    // Updates do reach below the view (so the comparison above covered levels that had entered it).
    expect(deeper).toBeGreaterThan(0);
  });

  it("serves books5 and bbo-tbt in OKX's shapes, derived from the replayed book, pushed when they change", async () => {
    const c = await Client.open(btc.url);
    c.subscribe("BTC-USDT-SWAP");
    c.subscribe("BTC-USDT-SWAP", "books5");
    c.subscribe("BTC-USDT-SWAP", "bbo-tbt");
    const raw = () =>
      c.frames
        .filter((f) => f.startsWith('{"arg"'))
        .map((f) => JSON.parse(f) as { arg: { channel: string }; action?: string; data: Record<string, unknown>[] });
    await c.until(() => raw().filter((m) => m.arg.channel === "bbo-tbt").length >= 30, 30_000);
    c.ws.close();
    const acks = c.frames
      .filter((f) => f.startsWith('{"event":"subscribe"'))
      .map((f) => (JSON.parse(f) as { arg: { channel: string } }).arg.channel);
    expect(acks).toEqual(["books", "books5", "bbo-tbt"]);
    // Replay the books channel to know the exchange's book at every seqId, then check each top push against it.
    const book = createBook("BTC-USDT-SWAP");
    const tops = new Map<number, { bids: [string, string][]; asks: [string, string][] }>();
    let last: Record<string, string> = {};
    let checked = 0;
    // seqIds at which the top 5 / top 1 changed (so a push is due), and the seqIds pushed
    const due: Record<string, number[]> = { books5: [], "bbo-tbt": [] };
    const pushed: Record<string, number[]> = { books5: [], "bbo-tbt": [] };
    let prevTop = { books5: "", "bbo-tbt": "" };
    for (const m of raw()) {
      const channel = m.arg.channel;
      const d = m.data[0]!;
      if (channel === "books") {
        applyBook(book, m.action as "snapshot" | "update", d as never);
        tops.set(d.seqId as number, { bids: topLevels(book.bids, 5), asks: topLevels(book.asks, 5) });
        const now = {
          books5: JSON.stringify(tops.get(d.seqId as number)),
          "bbo-tbt": JSON.stringify([book.bids[0], book.asks[0]].map((l) => [l!.px, l!.sz])),
        };
        for (const ch of ["books5", "bbo-tbt"] as const) if (now[ch] !== prevTop[ch]) due[ch]!.push(d.seqId as number);
        prevTop = now;
        continue;
      }
      pushed[channel]!.push(d.seqId as number);
      const n = channel === "books5" ? 5 : 1;
      expect(m.action).toBeUndefined();
      expect(Object.keys(d)).toEqual(
        channel === "books5" ? ["asks", "bids", "instId", "ts", "seqId"] : ["asks", "bids", "ts", "seqId"],
      );
      expect(typeof d.seqId).toBe("number");
      expect(d.ts).toMatch(/^\d{13}$/);
      const bids = d.bids as string[][];
      const asks = d.asks as string[][];
      expect(bids.length).toBe(n);
      expect(asks.length).toBe(n);
      for (const l of [...bids, ...asks])
        expect(l).toEqual([
          expect.stringMatching(/^\d+(\.\d+)?$/),
          expect.stringMatching(/^\d+(\.\d+)?$/),
          "0",
          expect.stringMatching(/^\d+$/),
        ]);
      const want = tops.get(d.seqId as number);
      if (want) {
        expect(bids.map((l) => [l[0], l[1]])).toEqual(want.bids.slice(0, n));
        expect(asks.map((l) => [l[0], l[1]])).toEqual(want.asks.slice(0, n));
        checked++;
      }
      // pushed on change only
      const key = JSON.stringify([bids, asks]);
      expect(key).not.toBe(last[channel]);
      last = { ...last, [channel]: key };
    }
    expect(checked).toBeGreaterThan(40);
    // every change of the top was pushed (from the channel's first push to the last book seen)
    const lastBook = Math.max(...tops.keys());
    for (const ch of ["books5", "bbo-tbt"] as const) {
      const from = pushed[ch]![0]!;
      expect(due[ch]!.filter((q) => q > from && q < lastBook)).toEqual(
        pushed[ch]!.filter((q) => q > from && q < lastBook),
      );
    }
  });
});

describe("local OKX exchange: connection log", () => {
  it("records every connection opened and closed and each subscribe per instId", async () => {
    const since = ex.connections().connections.at(-1)?.id ?? 0;
    const before = ex.connections();
    const a = await Client.open(ex.url);
    const b = await Client.open(ex.url);
    a.subscribe("ELON-USDT");
    a.subscribe("ELON-USDT", "books5");
    b.subscribe("BTC-USDT", "trades");
    b.subscribe("NOPE-USDT"); // refused: not counted
    await a.until(() => a.frames.filter((f) => f.startsWith('{"event":"subscribe"')).length === 2);
    await b.until(() => b.frames.some((f) => f.includes('"60018"')));
    a.ws.send(JSON.stringify({ op: "unsubscribe", args: [{ channel: "books5", instId: "ELON-USDT" }] }));
    await a.until(() => a.frames.some((f) => f.startsWith('{"event":"unsubscribe"')));
    a.ws.close();
    await a.until(() => a.closed !== null);
    await new Promise((r) => setTimeout(r, 50));
    const log = ex.connections(since);
    expect(log.connections.map((r) => [r.subscribes, r.refused, r.unsubscribes, r.closedAt !== null])).toEqual([
      [{ "ELON-USDT": 2 }, {}, { "ELON-USDT": 1 }, true],
      [{ "BTC-USDT": 1 }, { "NOPE-USDT": 1 }, {}, false],
    ]);
    expect(log.connections[0]!.closeCode).toBe(1005);
    expect(log.opened - before.opened).toBe(2);
    expect(log.closed - before.closed).toBe(1);
    expect(log.subscribes["ELON-USDT"]! - (before.subscribes["ELON-USDT"] ?? 0)).toBe(2);
    expect(log.subscribes["NOPE-USDT"]).toBeUndefined();
    expect(log.refused["NOPE-USDT"]! - (before.refused["NOPE-USDT"] ?? 0)).toBe(1);
    // the same over the control API
    const http = (await (await fetch(`${ex.httpUrl}/__control/connections?since=${since}`)).json()) as typeof log;
    expect(http.connections.map((r) => r.id)).toEqual(log.connections.map((r) => r.id));
    b.ws.close();
  });
});

describe("local OKX exchange: TLS", () => {
  it("serves wss:// and https:// with the self-signed certificate; a client trusting it gets books, one that does not is refused", async () => {
    const tls = await selfSignedCert(["127.0.0.1"]);
    const sx = await startExchange({
      replay: [DATA.okx20220513],
      port: 0,
      speed: 4,
      loop: true,
      connectionsPerSecond: 0,
      tls,
    });
    try {
      expect(sx.url).toMatch(/^wss:\/\/127\.0\.0\.1:\d+\/ws\/v5\/public$/);
      const ws = new WebSocket(sx.url, { ca: tls.cert });
      const frames: string[] = [];
      ws.on("message", (d) => frames.push(d.toString()));
      await new Promise((r, j) => ws.once("open", r).once("error", j));
      ws.send(JSON.stringify({ op: "subscribe", args: [{ channel: "books", instId: "BTC-USDT" }] }));
      const end = Date.now() + 20_000;
      while (!frames.some((f) => f.includes('"action":"snapshot"')) && Date.now() < end)
        await new Promise((r) => setTimeout(r, 50));
      expect(frames.some((f) => f.includes('"action":"snapshot"'))).toBe(true);
      ws.close();
      const untrusted = new WebSocket(sx.url);
      await expect(new Promise((r, j) => untrusted.once("open", r).once("error", j))).rejects.toThrow(
        /self[- ]signed/i,
      );
    } finally {
      await sx.close();
    }
  });
});
