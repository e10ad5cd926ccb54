/**
 * The relay core in Node with a fake clock, fake client sockets and a scripted fake upstream: every timer
 * (keepalive, pong timeout, subscribe timeout, backoff, grace close, refusal cool-down) is driven by advancing
 * the clock and firing the alarm the core asked for, so each transition is checked without workerd or waiting.
 */
import { describe, expect, it } from "vitest";
import { createBook, applyBook } from "../src/okx/book.js";
import { okxChecksum } from "../src/okx/checksum.js";
import type { OkxBookData } from "../src/okx/protocol.js";
import { CLOSE, MAX_IN_FLIGHT, type ServerMessage } from "../src/protocol.js";
import { NoChangeMultiModel } from "../src/predict/multi.js";
import type { Attachment, ClientSocket } from "../src/relay/clients.js";
import { RELAY_DEFAULTS, type RelayConfig } from "../src/relay/config.js";
import { RelayCore, type RelayReport } from "../src/relay/core.js";
import type { UpstreamHandlers } from "../src/relay/upstream.js";

const INST = "BTC-USDT-SWAP";
const BANDS = [
  { horizonSec: 10, lowBps: -5, highBps: 5 },
  { horizonSec: 60, lowBps: -10, highBps: 10 },
];

class FakeSocket implements ClientSocket {
  readonly sent: string[] = [];
  closed: { code?: number; reason?: string } | null = null;
  failSends = false;
  constructor(readonly attachment: Attachment | null = null) {}
  send(text: string): void {
    if (this.failSends) throw new Error("socket gone");
    this.sent.push(text);
  }
  close(code?: number, reason?: string): void {
    this.closed = { code, reason };
  }
  deserializeAttachment(): unknown {
    return this.attachment;
  }
  serializeAttachment(): void {}
  messages(): ServerMessage[] {
    return this.sent.map((s) => JSON.parse(s) as ServerMessage);
  }
  statuses(): string[] {
    return this.messages().flatMap((m) => (m.type === "status" ? [`${m.state}${m.reason ? ` ${m.reason}` : ""}`] : []));
  }
  books() {
    return this.messages().flatMap((m) => (m.type === "book" ? [m] : []));
  }
}

/** A fake OKX connection: records what the relay sent, lets the test push frames or close it. */
class FakeUpstream {
  readonly sent: string[] = [];
  closedByRelay = false;
  constructor(readonly handlers: UpstreamHandlers) {}
  send(text: string): void {
    this.sent.push(text);
  }
  close(): void {
    this.closedByRelay = true;
  }
  push(frame: unknown): void {
    this.handlers.onMessage(typeof frame === "string" ? frame : JSON.stringify(frame));
  }
}

function level(px: number, sz: number): [string, string, string, string] {
  return [px.toFixed(1), String(sz), "0", "1"];
}

function snapshot(seqId: number, mid = 100): OkxBookData {
  const data = {
    bids: [level(mid - 0.5, 2), level(mid - 1, 3)],
    asks: [level(mid + 0.5, 1), level(mid + 1, 4)],
    ts: "1700000000000",
    seqId,
    prevSeqId: -1,
  };
  const b = createBook(INST);
  applyBook(b, "snapshot", data, { verifyChecksum: false });
  return { ...data, checksum: okxChecksum(b.bids, b.asks) };
}

function booksPush(action: "snapshot" | "update", data: OkxBookData) {
  return { arg: { channel: "books", instId: INST }, action, data: [data] };
}

/**
 * Updates (seqId i, one bid) stamped `lagMs` before the harness's fake now, on the clock of `h.live()`'s snapshot
 * (ts 1700000000000 stamped at the fake time live() returned): a relay processing them is `lagMs` behind.
 */
function laggedUpdates(h: { readonly now: number }) {
  const t0 = h.now;
  return (i: number, lagMs: number) =>
    booksPush("update", {
      bids: [level(99.5, i)],
      asks: [],
      ts: String(1700000000000 + h.now - t0 - lagMs),
      seqId: i,
      prevSeqId: i - 1,
    });
}

function harness(cfg: Partial<RelayConfig> = {}, opts: { slotDelayMs?: number; failConnects?: number } = {}) {
  let now = 1_000_000;
  const alarms: number[] = [];
  const reports: RelayReport[] = [];
  const ups: FakeUpstream[] = [];
  const logs: unknown[][] = [];
  let failConnects = opts.failConnects ?? 0;
  const timers: { at: number; fn: () => void }[] = [];
  /** Run the deferred callbacks that are due on the fake clock. */
  const runTimers = () => {
    for (const t of timers.filter((t) => t.at <= now).sort((a, b) => a.at - b.at)) {
      timers.splice(timers.indexOf(t), 1);
      t.fn();
    }
  };
  const config: RelayConfig = { ...RELAY_DEFAULTS, ...cfg };
  const core = new RelayCore<FakeSocket>(config, {
    now: () => now,
    connect: async (_url, handlers) => {
      if (failConnects > 0) {
        failConnects--;
        throw new Error("upgrade refused: HTTP 503");
      }
      const u = new FakeUpstream(handlers);
      ups.push(u);
      return u;
    },
    reserveConnectSlot: opts.slotDelayMs === undefined ? null : async () => now + opts.slotDelayMs!,
    report: (r) => reports.push(r),
    setAlarm: async (at) => void alarms.push(at),
    predictors: {
      fallback: () => new NoChangeMultiModel(BANDS),
      load: async () => new NoChangeMultiModel(BANDS, "test-model", "7"),
    },
    log: { error: (...a) => logs.push(["error", ...a]), warn: (...a) => logs.push(["warn", ...a]), info: () => {} },
    random: () => 0.5,
    defer: (ms, fn) => void timers.push({ at: now + ms, fn }),
  });
  const flush = () => new Promise((r) => setTimeout(r, 0));
  const h = {
    core,
    ups,
    reports,
    logs,
    alarms,
    get now() {
      return now;
    },
    /** Advance the clock to the last alarm the core armed (or by `ms`) and fire it. */
    async fire(ms?: number) {
      now = ms !== undefined ? now + ms : Math.max(now, alarms.at(-1)!);
      runTimers();
      await core.onAlarm();
      await flush();
    },
    advance(ms: number) {
      now += ms;
      runTimers();
    },
    timers,
    async open(kind: "book" | "prediction" = "book", depth = 25): Promise<FakeSocket> {
      const a = core.newAttachment(INST, kind, depth);
      const ws = new FakeSocket(a);
      core.onOpen(ws, a);
      await flush();
      return ws;
    },
    /** Open a client and bring the upstream live with a snapshot. */
    async live(seqId = 10): Promise<FakeSocket> {
      const ws = await h.open();
      h.up().push(booksPush("snapshot", snapshot(seqId)));
      return ws;
    },
    up(): FakeUpstream {
      return ups.at(-1)!;
    },
    flush,
  };
  return h;
}

describe("relay core: upstream lifecycle", () => {
  it("first client: connecting -> subscribing -> live with the snapshot, book delivered with OKX's checksum", async () => {
    const h = harness();
    const ws = await h.open();
    expect(h.ups).toHaveLength(1);
    // One socket carries both channels: the book and the trades the features use.
    expect(JSON.parse(h.up().sent[0]!)).toEqual({
      op: "subscribe",
      args: [
        { channel: "books", instId: INST },
        { channel: "trades", instId: INST },
      ],
    });
    const snap = snapshot(10);
    h.up().push(booksPush("snapshot", snap));
    expect(ws.statuses()).toEqual(["connecting", "connecting subscribing", "live"]);
    const [book] = ws.books();
    expect(book).toMatchObject({
      seq: 1,
      seqId: 10,
      mid: 100,
      spread: 1,
      checksum: snap.checksum,
      bids: [
        ["99.5", "2"],
        ["99.0", "3"],
      ],
    });
    expect(h.core.snapshotStats()).toMatchObject({ state: "live", clients: 1, bookClients: 1, broadcasts: 1 });
    expect(h.reports.at(-1)).toMatchObject({ instId: INST, state: "live", clients: 1 });
  });

  it("a second client gets the current status and book at once, and no second upstream", async () => {
    const h = harness();
    await h.live();
    const late = await h.open();
    expect(h.ups).toHaveLength(1);
    expect(late.statuses()).toEqual(["live"]);
    expect(late.books()).toHaveLength(1);
  });

  it("keepalive: ping after pingAfterMs of silence, reconnect when no pong within pongTimeoutMs", async () => {
    const h = harness({ pingAfterMs: 20_000, pongTimeoutMs: 5_000, backoffBaseMs: 500 });
    const start = h.now;
    const ws = await h.live();
    // The subscribe deadline's alarm fires first and finds nothing due; then the keepalive deadline is armed.
    await h.fire();
    expect(h.up().sent.at(-1)).not.toBe("ping");
    expect(h.alarms.at(-1)).toBe(start + 20_000);
    await h.fire();
    expect(h.up().sent.at(-1)).toBe("ping");
    // A pong (any traffic) clears the ping; the next one comes 20 s later.
    h.advance(1000);
    h.up().push("pong");
    await h.fire(20_000);
    expect(h.up().sent.filter((s) => s === "ping")).toHaveLength(2);
    // No answer this time: stall after 5 s -> reconnect with backoff.
    const first = h.up();
    await h.fire(5_000);
    expect(first.closedByRelay).toBe(true);
    expect(ws.statuses().at(-1)).toMatch(/^resyncing stalled: no data and no pong for 25\d{3} ms$/);
    expect(h.core.snapshotStats().faults.stall).toBe(1);
    // backoff attempt 0 with random 0.5: 500/2 + 0.5*250 = 375 ms
    expect(h.alarms.at(-1)).toBe(h.now + 375);
    await h.fire();
    expect(h.ups).toHaveLength(2);
  });

  it("subscribe timeout: no snapshot within subscribeTimeoutMs -> reconnect", async () => {
    const h = harness({ subscribeTimeoutMs: 3000 });
    const ws = await h.open();
    await h.fire(3000);
    expect(ws.statuses().at(-1)).toBe("resyncing no snapshot after subscribe");
    expect(h.core.snapshotStats().faults["subscribe-timeout"]).toBe(1);
  });

  it("a gap resyncs on the same socket (unsubscribe + subscribe), then goes live again", async () => {
    const h = harness();
    const ws = await h.live(10);
    h.up().push(
      booksPush("update", { bids: [level(99.5, 5)], asks: [], ts: "1700000000100", seqId: 12, prevSeqId: 11 }),
    );
    expect(ws.statuses().slice(-1)).toEqual(["resyncing gap"]);
    expect(
      h
        .up()
        .sent.slice(-2)
        .map((s) => JSON.parse(s).op),
    ).toEqual(["unsubscribe", "subscribe"]);
    h.up().push(booksPush("snapshot", snapshot(20)));
    expect(ws.statuses().slice(-1)).toEqual(["live"]);
    expect(h.ups).toHaveLength(1);
    expect(h.core.snapshotStats()).toMatchObject({ resyncs: 1, faults: { gap: 1 } });
  });

  it("a malformed trades push never breaks the book: counted, no resync", async () => {
    const h = harness();
    const ws = await h.live(10);
    h.up().push({ arg: { channel: "trades", instId: INST }, data: "garbage" });
    h.up().push({
      arg: { channel: "trades", instId: INST },
      data: [{ instId: INST, tradeId: "1", px: "100", sz: "1", side: "buy", ts: "1700000000050" }],
    });
    h.up().push(
      booksPush("update", { bids: [level(99.5, 5)], asks: [], ts: "1700000000100", seqId: 11, prevSeqId: 10 }),
    );
    expect(ws.statuses()).not.toContain("resyncing malformed");
    expect(ws.books().at(-1)).toMatchObject({ seqId: 11 });
    expect(h.core.snapshotStats()).toMatchObject({ tradeMessages: 1, badTrades: 1, resyncs: 0 });
  });

  it("more than 3 resyncs in 10 s reconnect instead", async () => {
    const h = harness();
    const ws = await h.live(10);
    for (let i = 0; i < 4; i++) {
      h.up().push("{not json");
      h.advance(100);
    }
    expect(ws.statuses().at(-1)).toBe("resyncing malformed: repeated faults");
    expect(h.ups[0]!.closedByRelay).toBe(true);
    expect(h.core.snapshotStats().reconnects).toBe(1);
  });

  it("notice 64008 reconnects at once, before OKX closes the socket", async () => {
    const h = harness();
    const ws = await h.live();
    h.up().push({ event: "notice", code: "64008", msg: "service upgrade", connId: "x" });
    await h.flush();
    expect(h.ups).toHaveLength(2);
    expect(h.ups[0]!.closedByRelay).toBe(true);
    expect(ws.statuses().slice(-3)).toEqual([
      "resyncing notice 64008: service upgrade",
      "connecting",
      "connecting subscribing",
    ]);
  });

  it("a dropped socket shows down, backs off with growing jittered delays, and recovers", async () => {
    const h = harness({ backoffBaseMs: 100, backoffMaxMs: 1000 }, { failConnects: 3 });
    const ws = await h.open();
    expect(ws.statuses().at(-1)).toBe("down connect failed: upgrade refused: HTTP 503");
    const delays: number[] = [];
    for (let i = 0; i < 3; i++) {
      delays.push(h.alarms.at(-1)! - h.now);
      await h.fire();
    }
    // attempt n: exp = min(1000, 100 * 2^n); delay = exp/2 + 0.5 * exp/2
    expect(delays).toEqual([75, 150, 300]);
    expect(h.ups).toHaveLength(1);
    h.up().push(booksPush("snapshot", snapshot(1)));
    expect(ws.statuses().at(-1)).toBe("live");
    // The attempt counter restarts: the next drop waits the base delay again.
    h.up().handlers.onClose(1006, "");
    expect(ws.statuses().at(-1)).toBe("down closed 1006");
    expect(h.alarms.at(-1)! - h.now).toBe(75);
  });

  it("the backoff delay stays within [cap/2, cap] however many attempts fail", async () => {
    const h = harness({ backoffBaseMs: 100, backoffMaxMs: 1000 }, { failConnects: 20 });
    await h.open();
    for (let i = 0; i < 15; i++) {
      const d = h.alarms.at(-1)! - h.now;
      expect(d).toBeLessThanOrEqual(1000);
      if (i >= 4) expect(d).toBe(750);
      await h.fire();
    }
  });

  it("grace close: the upstream closes graceMs after the last client leaves, and reopens on demand", async () => {
    const h = harness({ graceMs: 300 });
    const ws = await h.live();
    h.core.onClose(ws);
    await h.fire(294); // the alarm counts a deadline within 5 ms as due (alarms may fire early)
    expect(h.up().closedByRelay).toBe(false);
    await h.fire(1);
    expect(h.up().closedByRelay).toBe(true);
    expect(h.core.snapshotStats()).toMatchObject({ state: "idle", stateReason: "no clients", clients: 0 });
    await h.live();
    expect(h.ups).toHaveLength(2);
  });

  it("a client returning within the grace period keeps the same upstream", async () => {
    const h = harness({ graceMs: 300 });
    const ws = await h.live();
    h.core.onClose(ws);
    h.advance(100);
    await h.open();
    await h.fire(1000);
    expect(h.ups).toHaveLength(1);
    expect(h.up().closedByRelay).toBe(false);
  });

  it("unknown instrument (60018): clients told and closed 4004; refused for the cool-down without a new connection", async () => {
    const h = harness({ invalidInstrumentMs: 2000 });
    const ws = await h.open();
    h.up().push({ event: "error", code: "60018", msg: "Parameter BTC-USDT-SWAP doesn't exist", connId: "x" });
    expect(ws.messages().at(-1)).toMatchObject({ type: "error", code: "unknown_instrument", fatal: true });
    expect(ws.closed).toEqual({ code: CLOSE.unknownInstrument, reason: "unknown instrument" });
    expect(h.up().closedByRelay).toBe(true);
    h.advance(1999);
    const again = await h.open();
    expect(again.closed?.code).toBe(CLOSE.unknownInstrument);
    expect(h.ups).toHaveLength(1);
    h.advance(1);
    await h.open();
    expect(h.ups).toHaveLength(2);
  });

  it("waits for its connect slot from the shared limiter before connecting", async () => {
    const h = harness({}, { slotDelayMs: 700 });
    await h.open();
    expect(h.ups).toHaveLength(0);
    expect(h.alarms.at(-1)).toBe(h.now + 700);
    await h.fire();
    expect(h.ups).toHaveLength(1);
  });
});

describe("relay core: clients and flow control", () => {
  function update(seqId: number, px: number) {
    return booksPush("update", {
      bids: [level(px, seqId)],
      asks: [],
      ts: String(1700000000000 + seqId),
      seqId,
      prevSeqId: seqId - 1,
    });
  }

  it("an acking client beyond the window is conflated and gets the latest book on its next ack", async () => {
    const h = harness();
    const slow = await h.live(10);
    const fast = await h.open();
    slow.sent.length = 0;
    h.core.onMessage(slow, JSON.stringify({ op: "ack", seq: 1 }));
    for (let i = 11; i <= 40; i++) {
      h.up().push(update(i, 99.4));
      h.core.onMessage(fast, JSON.stringify({ op: "ack", seq: i - 9 }));
    }
    const seqs = slow.books().map((b) => b.seq);
    expect(seqs).toEqual(Array.from({ length: MAX_IN_FLIGHT }, (_, i) => i + 2));
    expect(fast.books().at(-1)!.seq).toBe(31);
    expect(h.core.snapshotStats().conflated).toBe(1);
    h.core.onMessage(slow, JSON.stringify({ op: "ack", seq: 17 }));
    expect(slow.books().at(-1)).toMatchObject({ seq: 31, seqId: 40 });
  });

  it("a client that never acks is paused at its budget with ack_required, then closed 4008 after the stall time", async () => {
    const h = harness({ clientBudgetBytes: 2048, clientStallMs: 3000 });
    const silent = await h.live(10);
    const reader = await h.open();
    for (let i = 11; i <= 30; i++) {
      h.up().push(update(i, 99.4));
      h.core.onMessage(reader, JSON.stringify({ op: "ack", seq: i - 9 }));
    }
    const bytes = silent.books().reduce((n, b) => n + JSON.stringify(b).length, 0);
    expect(bytes).toBeLessThanOrEqual(2048);
    expect(silent.messages().filter((m) => m.type === "error" && m.code === "ack_required")).toHaveLength(1);
    expect(h.core.snapshotStats().budgetPaused).toBe(1);
    h.advance(3000);
    h.up().push(update(31, 99.4));
    expect(silent.closed?.code).toBe(CLOSE.notReading);
    expect(reader.closed).toBeNull();
    expect(reader.books().at(-1)!.seqId).toBe(31);
    expect(h.core.snapshotStats()).toMatchObject({ stalledClosed: 1, clients: 1 });
  });

  it("an ack for a seq the client was never sent is bad_message and leaves its budget alone (the blind lie)", async () => {
    const h = harness({ clientBudgetBytes: 2048, clientStallMs: 3000 });
    const liar = await h.live(10);
    const reader = await h.open();
    for (let i = 11; i <= 30; i++) {
      h.up().push(update(i, 99.4));
      h.core.onMessage(reader, JSON.stringify({ op: "ack", seq: i - 9 }));
      // The liar stopped reading but acks what it cannot have read: a seq beyond the last one it was sent.
      h.core.onMessage(liar, JSON.stringify({ op: "ack", seq: Number.MAX_SAFE_INTEGER }));
    }
    const lies = liar.messages().filter((m) => m.type === "error" && m.code === "bad_message");
    expect(lies).toHaveLength(10);
    expect(lies[0]).toMatchObject({ message: expect.stringContaining("last book sent on this connection") });
    // Its budget still ran out (the lies did not restart it) ...
    expect(liar.books().reduce((n, b) => n + JSON.stringify(b).length, 0)).toBeLessThanOrEqual(2048);
    expect(h.core.snapshotStats().budgetPaused).toBe(1);
    // ... and the 11th invalid message closes it.
    h.core.onMessage(liar, JSON.stringify({ op: "ack", seq: Number.MAX_SAFE_INTEGER }));
    expect(liar.closed?.code).toBe(CLOSE.badClient);
    // An honest ack (of the last book it was sent) is still an ack.
    expect(reader.messages().some((m) => m.type === "error")).toBe(false);
  });

  it.each([
    ["binary frame", new ArrayBuffer(4), CLOSE.binary],
    ["oversized frame", "x".repeat(1025), CLOSE.tooBig],
  ])("%s closes the socket", async (_n, frame, code) => {
    const h = harness();
    const ws = await h.live();
    h.core.onMessage(ws, frame);
    expect(ws.closed?.code).toBe(code);
  });

  it("10 invalid messages are answered bad_message, the 11th closes 1008", async () => {
    const h = harness();
    const ws = await h.live();
    for (let i = 0; i < 10; i++) h.core.onMessage(ws, "hello");
    expect(ws.messages().filter((m) => m.type === "error" && m.code === "bad_message")).toHaveLength(10);
    expect(ws.closed).toBeNull();
    h.core.onMessage(ws, "hello");
    expect(ws.closed?.code).toBe(CLOSE.badClient);
  });

  it("a failed send closes only that socket", async () => {
    const h = harness();
    const broken = await h.live(10);
    const ok = await h.open();
    broken.failSends = true;
    h.up().push(update(11, 99.4));
    expect(broken.closed?.code).toBe(CLOSE.sendFailed);
    expect(ok.books().at(-1)!.seqId).toBe(11);
    expect(h.core.snapshotStats().clients).toBe(1);
  });

  it("serializes each book once per depth: clients at the same depth get the identical string", async () => {
    const h = harness();
    const a = await h.live(10);
    const b = await h.open("book", 25);
    const c = await h.open("book", 1);
    h.up().push(update(11, 99.4));
    expect(a.sent.at(-1)).toBe(b.sent.at(-1));
    expect(JSON.parse(c.sent.at(-1)!)).toMatchObject({ depth: 1, bids: [["99.5", "2"]] });
  });

  it("restores clients from their attachments after hibernation and reconnects on the alarm", async () => {
    const h = harness();
    const a = { instId: INST, kind: "book", depth: 25, id: 7 } as const;
    const ws = new FakeSocket(a);
    h.core.restore([ws, new FakeSocket(null)]);
    expect(h.core.snapshotStats()).toMatchObject({ instId: INST, clients: 1 });
    await h.fire(0);
    expect(h.ups).toHaveLength(1);
    h.up().push(booksPush("snapshot", snapshot(1)));
    expect(ws.books()).toHaveLength(1);
    // New clients get ids after the restored ones.
    expect(h.core.newAttachment(INST, "book", 25).id).toBe(8);
  });

  it("prediction clients get the no-change forecast for each second of exchange time", async () => {
    const h = harness();
    await h.live(10);
    const p = await h.open("prediction");
    for (let i = 11; i <= 14; i++) {
      const d = {
        bids: [level(99.5, i)],
        asks: [],
        ts: String(1700000000000 + (i - 10) * 1000),
        seqId: i,
        prevSeqId: i - 1,
      };
      h.up().push(booksPush("update", d));
      await h.flush();
    }
    const preds = p.messages().filter((m) => m.type === "prediction");
    expect(preds.length).toBeGreaterThanOrEqual(3);
    for (const m of preds) {
      expect(m.mid).toBe(100);
      expect(m.horizons.map((x) => [x.horizonSec, x.predictedReturnBps, x.predictedMid])).toEqual([
        [10, 0, 100],
        [60, 0, 100],
      ]);
    }
    // The fallback serves until the model has loaded; then the model does.
    expect(preds.at(-1)).toMatchObject({ model: { name: "test-model", version: "7" } });
    expect(h.core.snapshotStats().model).toBe("test-model@7");
    expect(h.logs).toEqual([]);
  });

  it("behind the exchange, the relay applies every message but broadcasts only the latest (coalescing)", async () => {
    const h = harness({ coalesceLagMs: 250, coalesceIntervalMs: 200 });
    const ws = await h.live(10); // snapshot ts 1700000000000 at the fake now: the clock offset
    // Starved for a second: 50 queued updates (10 ms apart in exchange time) are processed at the same instant.
    h.advance(1000);
    for (let i = 11; i <= 60; i++) {
      const ts = String(1700000000000 + (i - 10) * 10);
      h.up().push(booksPush("update", { bids: [level(99.5, i)], asks: [], ts, seqId: i, prevSeqId: i - 1 }));
    }
    expect(ws.books().map((b) => b.seqId)).toEqual([10, 11]);
    expect(h.core.snapshotStats()).toMatchObject({ coalesced: 49, broadcasts: 2 });
    expect(h.core.snapshotStats().relayLagMs).toBeGreaterThan(250);
    // The trailing flush sends the latest state once the interval has passed: 400 ms, since it doubled when seq 11
    // went out while the relay was still behind (coalescer.ts).
    h.advance(399);
    expect(ws.books().map((b) => b.seqId)).toEqual([10, 11]);
    h.advance(1);
    expect(ws.books().map((b) => b.seqId)).toEqual([10, 11, 60]);
    expect(h.core.snapshotStats().coalesceIntervalMs).toBe(800);
    expect(ws.books().at(-1)!.bids[0]).toEqual(["99.5", "60"]);
    // Keeping up again (exchange time advances with ours): every message is broadcast.
    for (let i = 61; i <= 63; i++) {
      h.advance(1000);
      const ts = String(1700000000000 + 1200 + (i - 60) * 1000);
      h.up().push(booksPush("update", { bids: [level(99.5, i)], asks: [], ts, seqId: i, prevSeqId: i - 1 }));
    }
    expect(
      ws
        .books()
        .map((b) => b.seqId)
        .slice(-3),
    ).toEqual([61, 62, 63]);
  });

  it("behind the exchange, a conflated client's ack is answered with the next coalesced broadcast, not at once", async () => {
    const h = harness({ coalesceLagMs: 250, coalesceIntervalMs: 200, maxStalenessMs: 600_000 });
    const ws = await h.live(10);
    const upd = laggedUpdates(h);
    h.core.onMessage(ws, JSON.stringify({ op: "ack", seq: ws.books().at(-1)!.seq }));
    // Keeping up, the client stops acking: 16 books in flight, then it is conflated (pending).
    for (let i = 11; i <= 40; i++) {
      h.advance(10);
      h.up().push(upd(i, 0));
    }
    const got = ws.books().length;
    expect(got).toBe(17);
    // The relay falls 1 s behind: it coalesces.
    h.advance(1000);
    h.up().push(upd(41, 1000));
    expect(h.core.snapshotStats().coalesceIntervalMs).toBeGreaterThan(0);
    // The conflated client acks: keeping up it would get the latest book at once; behind, with the next broadcast.
    h.core.onMessage(ws, JSON.stringify({ op: "ack", seq: ws.books().at(-1)!.seq }));
    expect(ws.books()).toHaveLength(got);
    // Seq 41 went out at once (the last broadcast was 1 s earlier) and the interval doubled to 400 ms; the book
    // does not change again, yet the owed client gets it at the end of that interval.
    h.advance(399);
    expect(ws.books()).toHaveLength(got);
    h.advance(1);
    expect(ws.books()).toHaveLength(got + 1);
    expect(ws.books().at(-1)!.seqId).toBe(41);
  });

  it("the staleness bound applies to a book's age: the relay's own lag at send counts, not only time in flight", async () => {
    const h = harness();
    const ws = await h.live(10);
    const upd = laggedUpdates(h);
    h.core.onMessage(ws, JSON.stringify({ op: "ack", seq: ws.books().at(-1)!.seq }));
    h.advance(1500);
    h.up().push(upd(11, 1500)); // the relay is 1.5 s behind: within the bound, nobody told; the book goes out
    expect(ws.books().at(-1)!.seqId).toBe(11);
    h.advance(600);
    h.up().push(upd(12, 1500)); // 600 ms later, not acked: that book is now 2.1 s old
    const told = ws.messages().filter((m) => m.type === "lagging");
    expect(told).toEqual([{ type: "lagging", instId: INST, scope: "client", lagMs: 2100, boundMs: 2000, at: h.now }]);
    expect(ws.books().at(-1)!.seqId).toBe(11); // withheld until it acks
    expect(h.core.snapshotStats().clientLag).toMatchObject({ maxMs: 2100, lagging: 1 });
  });

  it("a relay behind the exchange by more than the staleness bound tells its book clients once; books keep coming", async () => {
    const h = harness();
    const ws = await h.live(10); // snapshot ts 1700000000000 at the fake now: the clock offset
    const upd = (i: number) =>
      booksPush("update", {
        bids: [level(99.5, i)],
        asks: [],
        ts: String(1700000000000 + (i - 10) * 10),
        seqId: i,
        prevSeqId: i - 1,
      });
    h.advance(3000); // starved for 3 s: the next update is 2,990 ms old when the relay gets to it
    h.up().push(upd(11));
    const told = () => ws.messages().filter((m) => m.type === "lagging");
    expect(told()).toEqual([{ type: "lagging", instId: INST, scope: "relay", lagMs: 2990, boundMs: 2000, at: h.now }]);
    expect(ws.books().at(-1)!.seqId).toBe(11); // the book still goes out (the first one behind, at once)
    h.up().push(upd(12)); // still behind: the same episode, not told again
    h.advance(1000);
    expect(told()).toHaveLength(1);
    expect(ws.books().at(-1)!.seqId).toBe(12); // the trailing flush
    expect(h.logs.some((l) => /behind the exchange by 2990 ms/.test(String(l)))).toBe(true);
  });

  it("a client whose oldest unacknowledged book is older than the bound is told it lags, skipped, and closed 4009", async () => {
    const h = harness({ maxStalenessMs: 2000, lagCloseMs: 5000, coalesceLagMs: 600_000 });
    const slow = await h.live(10);
    const fresh = await h.open();
    const upd = (i: number) =>
      booksPush("update", {
        bids: [level(99.5, i)],
        asks: [],
        ts: String(1700000000000 + i),
        seqId: i,
        prevSeqId: i - 1,
      });
    // The fresh client acks every book as it arrives; the slow one acks once, then falls silent.
    const push = (i: number) => {
      h.up().push(upd(i));
      h.core.onMessage(fresh, JSON.stringify({ op: "ack", seq: fresh.books().at(-1)!.seq }));
    };
    h.core.onMessage(slow, JSON.stringify({ op: "ack", seq: 1 }));
    push(11); // seq 2: slow's oldest unacknowledged book, sent now
    h.advance(2001);
    push(12);
    const lag = slow.messages().filter((m) => m.type === "lagging");
    expect(lag).toEqual([{ type: "lagging", instId: INST, scope: "client", lagMs: 2001, boundMs: 2000, at: h.now }]);
    expect(slow.books().at(-1)!.seqId).toBe(11);
    expect(fresh.books().at(-1)!.seqId).toBe(12);
    expect(h.core.snapshotStats().clientLag).toMatchObject({ measured: 2, lagging: 1, maxMs: 2001, p50Ms: 0 });
    // Its next ack brings the latest book at once and ends the episode.
    h.core.onMessage(slow, JSON.stringify({ op: "ack", seq: 2 }));
    expect(slow.books().at(-1)!.seqId).toBe(12);
    expect(h.core.snapshotStats().clientLag.lagging).toBe(0);
    // Lagging again and staying beyond the bound for lagCloseMs: closed 4009; the fresh client is unaffected.
    push(13);
    h.advance(2001);
    push(14);
    h.advance(5000);
    push(15);
    expect(slow.closed?.code).toBe(CLOSE.lagging);
    expect(fresh.closed).toBeNull();
    expect(fresh.books().at(-1)!.seqId).toBe(15);
    expect(h.core.snapshotStats()).toMatchObject({ lagClosed: 1, staleSkipped: 2 });
  });
});
