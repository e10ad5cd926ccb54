/**
 * The fan-out shard core in Node with a fake clock, fake client sockets and a fake relay link: linking on the
 * first client, the want it reports, byte-for-byte forwarding, link loss told to every client and healed by a
 * relink, keepalive and stall, the grace close, coalescing when the shard falls behind, a restarted relay's
 * numbering, bad and fatal frames.
 */
import { describe, expect, it } from "vitest";
import { CLOSE, statusMessage, type ServerMessage } from "../src/protocol.js";
import type { Attachment, ClientSocket } from "../src/relay/clients.js";
import { RELAY_DEFAULTS, type RelayConfig } from "../src/relay/config.js";
import { allFrame, bookFrame, fatalFrame, forecastFrame, parseWant } from "../src/relay/link.js";
import { ShardCore, type ShardIdentity } from "../src/relay/shard-core.js";
import type { UpstreamHandlers } from "../src/relay/upstream.js";

const INST = "BTC-USDT-SWAP";
const AT: ShardIdentity = { relay: INST, shard: 2 };

class FakeSocket implements ClientSocket {
  readonly sent: string[] = [];
  closed: { code?: number; reason?: string } | null = null;
  send(text: string): void {
    this.sent.push(text);
  }
  close(code?: number, reason?: string): void {
    this.closed = { code, reason };
  }
  deserializeAttachment(): unknown {
    return null;
  }
  messages(): ServerMessage[] {
    return this.sent.map((s) => JSON.parse(s) as ServerMessage);
  }
  statuses(): string[] {
    return this.messages().flatMap((m) => (m.type === "status" ? [`${m.state}${m.reason ? ` ${m.reason}` : ""}`] : []));
  }
  books(): number[] {
    return this.messages().flatMap((m) => (m.type === "book" ? [m.seq] : []));
  }
}

class FakeLink {
  readonly sent: string[] = [];
  closed = false;
  constructor(readonly handlers: UpstreamHandlers) {}
  send(text: string): void {
    this.sent.push(text);
  }
  close(): void {
    this.closed = true;
  }
  wants() {
    return this.sent.filter((s) => s !== "ping").map((s) => parseWant(s));
  }
}

const book = (seq: number, ts: number, depth = 25) =>
  `{"type":"book","instId":"${INST}","seq":${seq},"ts":${ts},"depth":${depth}}`;

function harness(cfg: Partial<RelayConfig> = {}, failLinks = 0) {
  let now = 1_000_000;
  const links: FakeLink[] = [];
  const alarms: number[] = [];
  const timers: { at: number; fn: () => void }[] = [];
  const logs: unknown[][] = [];
  let fails = failLinks;
  const config: RelayConfig = { ...RELAY_DEFAULTS, ...cfg };
  const core = new ShardCore<FakeSocket>(config, {
    now: () => now,
    link: async (at, instId, handlers) => {
      expect([at, instId]).toEqual([AT, INST]);
      if (fails > 0) {
        fails--;
        throw new Error("upgrade refused: HTTP 500");
      }
      const l = new FakeLink(handlers);
      links.push(l);
      return l;
    },
    setAlarm: async (at) => void alarms.push(at),
    log: { error: (...a) => logs.push(["error", ...a]), warn: (...a) => logs.push(["warn", ...a]), info: () => {} },
    defer: (ms, fn) => void timers.push({ at: now + ms, fn }),
    random: () => 0.5,
  });
  const flush = () => new Promise((r) => setTimeout(r, 0));
  const h = {
    core,
    links,
    logs,
    get now() {
      return now;
    },
    async advance(ms: number) {
      now += ms;
      for (const t of timers.filter((t) => t.at <= now).sort((a, b) => a.at - b.at)) {
        timers.splice(timers.indexOf(t), 1);
        t.fn();
      }
      await flush();
    },
    /** Fire the alarm if the core asked for one that is due. */
    async alarm() {
      const due = alarms.filter((a) => a <= now);
      if (due.length === 0) return false;
      alarms.splice(0, alarms.length, ...alarms.filter((a) => a > now));
      await core.onAlarm();
      await flush();
      return true;
    },
    async open(kind: Attachment["kind"] = "book", depth = 25, route = 0): Promise<FakeSocket> {
      const ws = new FakeSocket();
      const a = core.newAttachment(INST, AT, kind, depth);
      core.onOpen(ws, a, route);
      await flush();
      return ws;
    },
    /** The relay's side: push a frame down the newest link. */
    push(frame: string) {
      links.at(-1)!.handlers.onMessage(frame);
    },
    live() {
      h.push(allFrame(statusMessage(INST, "live", null, now)));
    },
  };
  return h;
}

describe("shard core", () => {
  it("links on the first client, reports its want with the route token, forwards books byte for byte", async () => {
    const h = harness();
    const a = await h.open("book", 25, 41);
    expect(a.statuses()).toEqual(["connecting linking to the relay"]);
    expect(h.links.length).toBe(1);
    expect(h.links[0]!.wants()).toEqual([
      { ok: true, value: { op: "want", clients: 1, depths: [25], prediction: false, arrived: [41] } },
    ]);
    h.live();
    const text = book(1, h.now);
    h.push(bookFrame(1, h.now, new Map([[25, text]])));
    expect(a.sent.at(-1)).toBe(text);
    expect(a.statuses()).toEqual(["connecting linking to the relay", "live"]);
    // A second client at a new depth: the want (debounced) names both depths and the new token.
    const b = await h.open("book", 400, 42);
    await h.advance(60);
    expect(h.links[0]!.wants().at(-1)).toEqual({
      ok: true,
      value: { op: "want", clients: 2, depths: [25, 400], prediction: false, arrived: [42] },
    });
    expect(b.books()).toEqual([]); // no 400-level book yet: the relay greets the new depth
    const deep = book(1, h.now, 400);
    h.push(
      bookFrame(
        1,
        h.now,
        new Map([
          [25, text],
          [400, deep],
        ]),
      ),
    );
    expect(b.sent.at(-1)).toBe(deep);
    expect(a.books()).toEqual([1]); // the greeting repeats seq 1: the client that had it gets nothing new
    h.push(
      bookFrame(
        2,
        h.now,
        new Map([
          [25, book(2, h.now)],
          [400, book(2, h.now, 400)],
        ]),
      ),
    );
    expect([a.books(), b.books()]).toEqual([
      [1, 2],
      [1, 2],
    ]);
  });

  it("a lost link is told to every client at once, new clients get no book, the alarm relinks", async () => {
    const h = harness({ backoffBaseMs: 100 });
    const a = await h.open();
    h.live();
    h.push(bookFrame(5, h.now, new Map([[25, book(5, h.now)]])));
    h.links[0]!.handlers.onClose(1006, "");
    expect(a.statuses().at(-1)).toMatch(/^resyncing relay link lost: closed 1006/);
    const late = await h.open();
    expect(late.books()).toEqual([]);
    expect(late.statuses()).toEqual([a.statuses().at(-1)]);
    expect(h.core.snapshotStats().link).toBe("backoff");
    await h.advance(200);
    expect(await h.alarm()).toBe(true);
    expect(h.links.length).toBe(2);
    h.live();
    h.push(bookFrame(6, h.now, new Map([[25, book(6, h.now)]])));
    expect([a.books(), late.books()]).toEqual([[5, 6], [6]]);
    expect(a.statuses().at(-1)).toBe("live");
    expect(h.core.snapshotStats().links).toBe(2);
  });

  it("a failed link backs off and retries while clients remain", async () => {
    const h = harness({ backoffBaseMs: 100 }, 2);
    const a = await h.open();
    expect(a.statuses().at(-1)).toMatch(/relay link failed: upgrade refused/);
    for (let i = 0; i < 2 && h.links.length === 0; i++) {
      await h.advance(1000);
      await h.alarm();
    }
    expect(h.links.length).toBe(1);
    expect(h.core.snapshotStats().link).toBe("linked");
  });

  it("keepalive: pings after pingAfterMs of silence, relinks after pongTimeoutMs more", async () => {
    const h = harness({ pingAfterMs: 1000, pongTimeoutMs: 500, backoffBaseMs: 10 });
    const a = await h.open();
    h.live();
    await h.advance(1000);
    await h.alarm();
    expect(h.links[0]!.sent.at(-1)).toBe("ping");
    await h.advance(500);
    await h.alarm();
    expect(h.links[0]!.closed).toBe(true);
    expect(a.statuses().at(-1)).toMatch(/relay link stalled/);
  });

  it("closes the link graceMs after the last client leaves, not before", async () => {
    const h = harness({ graceMs: 300 });
    const a = await h.open();
    h.core.onClose(a);
    await h.advance(100);
    await h.alarm();
    expect(h.links[0]!.closed).toBe(false);
    await h.advance(250);
    await h.alarm();
    expect(h.links[0]!.closed).toBe(true);
    expect(h.core.snapshotStats().link).toBe("idle");
  });

  it("behind the exchange, it forwards only the latest book (at most one per interval) and flushes the last", async () => {
    const h = harness({ coalesceLagMs: 1000, coalesceIntervalMs: 200 });
    const a = await h.open();
    h.live();
    const ts0 = h.now;
    h.push(bookFrame(1, ts0, new Map([[25, book(1, ts0)]]))); // establishes the clock offset
    await h.advance(10);
    h.push(bookFrame(2, ts0 + 10, new Map([[25, book(2, ts0 + 10)]])));
    // Now the relay's books arrive 2 s late and quickly: seq 3..10 within 80 ms.
    await h.advance(2000);
    for (let s = 3; s <= 10; s++) {
      h.push(bookFrame(s, ts0 + s, new Map([[25, book(s, ts0 + s)]])));
      await h.advance(10);
    }
    expect(a.books().length).toBeLessThan(10);
    expect(h.core.snapshotStats().coalesced).toBeGreaterThan(0);
    await h.advance(450); // the trailing flush (the interval doubles while behind: 200, then 400 ms)
    expect(a.books().at(-1)).toBe(10);
  });

  it("a restarted relay's numbering (seq going down) restarts every client's flow state", async () => {
    const h = harness();
    const a = await h.open();
    h.live();
    for (let s = 100; s < 103; s++) h.push(bookFrame(s, h.now, new Map([[25, book(s, h.now)]])));
    h.core.onMessage(a, JSON.stringify({ op: "ack", seq: 100 }));
    expect(h.core.snapshotStats().clientLags.length).toBe(1); // an acking client: its lag is measured
    // The relay restarted: its acks and lags refer to the old numbering, so the client starts afresh (like a new
    // client: no window until its first ack of the new numbering) and gets every book.
    for (let s = 1; s <= 20; s++) h.push(bookFrame(s, h.now, new Map([[25, book(s, h.now)]])));
    expect(h.core.snapshotStats().clientLags.length).toBe(0);
    expect(a.books().slice(3)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    h.core.onMessage(a, JSON.stringify({ op: "ack", seq: 20 }));
    expect(h.core.snapshotStats().clientLags).toEqual([0]);
  });

  it("a bad link frame is never forwarded: the shard relinks", async () => {
    const h = harness({ backoffBaseMs: 10 });
    const a = await h.open();
    h.live();
    h.push("B7;1;25:999\n{}");
    expect(a.books()).toEqual([]);
    expect(h.core.snapshotStats().badLinkFrames).toBe(1);
    expect(h.links[0]!.closed).toBe(true);
    expect(a.statuses().at(-1)).toMatch(/bad link frame/);
  });

  it("a fatal frame is sent to every client, which is then closed with its code", async () => {
    const h = harness();
    const a = await h.open();
    const p = await h.open("prediction", 0);
    const err = '{"type":"error","code":"unknown_instrument","message":"x","fatal":true}';
    h.push(fatalFrame(CLOSE.unknownInstrument, "unknown instrument", err));
    for (const ws of [a, p]) {
      expect(ws.sent.at(-1)).toBe(err);
      expect(ws.closed?.code).toBe(CLOSE.unknownInstrument);
    }
    expect(h.core.snapshotStats().clients).toBe(0);
  });

  it("forecasts go to prediction clients only, and a new prediction client gets the latest at once", async () => {
    const h = harness();
    const b = await h.open();
    const p = await h.open("prediction", 0);
    const f = '{"type":"prediction","seq":1}';
    h.push(forecastFrame(f));
    expect(p.sent.at(-1)).toBe(f);
    expect(b.sent.includes(f)).toBe(false);
    const late = await h.open("prediction", 0);
    expect(late.sent.at(-1)).toBe(f);
  });
});
