/**
 * The TypeScript SDK (packages/sdk-ts) in Node with a fake WebSocket driven by the test: checksum verification
 * (OKX's published vector), acks, reconnect backoff (exact delays with a fixed jitter draw), staleness, fatal
 * errors, the rejected-upgrade diagnosis, predictions; `simulateTrade` against the real simulate route.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  TradeSimApiError,
  TradeSimClient,
  type BookMessage,
  type Emitter,
  type PredictionMessage,
  type ScoreMessage,
} from "../packages/sdk-ts/src/index.js";
import { simulateRoutes, type SimulateBindings } from "../src/routes/simulate.js";
import { instrumentCache } from "../src/sim/instruments.js";
import { REPO_ROOT } from "../tools/lib/captures.js";

type Listener = (ev: unknown) => void;

/** A WebSocket the test drives: `open()`, `message()`, `drop()`; records what the SDK sends. */
class FakeSocket {
  static all: FakeSocket[] = [];
  readyState = 0;
  readonly sent: string[] = [];
  closedWith: number | null = null;
  private readonly listeners = new Map<string, Listener[]>();
  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }
  addEventListener(type: string, fn: Listener): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), fn]);
  }
  send(data: string): void {
    if (this.readyState !== 1) throw new Error("send on a socket that is not open");
    this.sent.push(data);
  }
  close(code = 1000): void {
    this.closedWith = code;
    this.readyState = 3;
  }
  private fire(type: string, ev: unknown): void {
    for (const fn of this.listeners.get(type) ?? []) fn(ev);
  }
  open(): void {
    this.readyState = 1;
    this.fire("open", {});
  }
  message(m: unknown): void {
    this.fire("message", { data: typeof m === "string" ? m : JSON.stringify(m) });
  }
  drop(code = 1006, reason = ""): void {
    this.readyState = 3;
    this.fire("close", { code, reason });
  }
  acks(): number[] {
    return this.sent.filter((s) => s.startsWith("{")).map((s) => (JSON.parse(s) as { op: string; seq: number }).seq);
  }
}
const last = () => FakeSocket.all.at(-1)!;

// OKX's published checksum example (data/okx-checksum-vectors, vector 1): "3366.1:7:3366.8:9:3366:6:3368:8".
const INST = "BTC-USDT-SWAP";
function book(seq: number, patch: Partial<BookMessage> = {}): BookMessage {
  return {
    type: "book",
    instId: INST,
    seq,
    ts: Date.now(),
    seqId: 1000 + seq,
    depth: 25,
    bids: [
      ["3366.1", "7"],
      ["3366", "6"],
    ],
    asks: [
      ["3366.8", "9"],
      ["3368", "8"],
    ],
    mid: 3366.45,
    spread: 0.7,
    checksum: -1881014294,
    ...patch,
  };
}
const status = (state: string, reason?: string) => ({
  type: "status",
  instId: INST,
  state,
  at: Date.now(),
  ...(reason && { reason }),
});

function client(extra: { fetch?: typeof fetch } = {}) {
  return new TradeSimClient({
    baseUrl: "http://tradesim.test/",
    fetch:
      extra.fetch ?? (async () => new Response(JSON.stringify({ upstream: "x", instruments: [] }), { status: 200 })),
    link: {
      WebSocket: FakeSocket as unknown as typeof WebSocket,
      backoffBaseMs: 100,
      backoffMaxMs: 1_000,
      random: () => 0,
      pingMs: 60_000,
    },
  });
}

function record<E extends object, K extends keyof E>(sub: Emitter<E>, type: K): E[K][] {
  const out: E[K][] = [];
  sub.on(type, (e) => out.push(e));
  return out;
}

beforeEach(() => {
  FakeSocket.all = [];
});
afterEach(() => {
  vi.useRealTimers();
});

describe("subscribeBook: verification and acks", () => {
  it("asks for at least 25 levels, hands out `depth`, verifies OKX's checksum and acks each book", () => {
    const sub = client().subscribeBook(INST, { depth: 1 });
    const books = record(sub, "book");
    const states = record(sub, "state");
    const ws = last();
    expect(ws.url).toBe("ws://tradesim.test/ws/okx?instId=BTC-USDT-SWAP&depth=25");
    ws.open();
    ws.message(status("live"));
    ws.message(book(1));
    ws.message(book(2));
    expect(books.map((b) => b.seq)).toEqual([1, 2]);
    expect(books[0]!.bids).toEqual([["3366.1", "7"]]); // trimmed to depth 1 after verifying all 2+2 levels
    expect(books[0]!.depth).toBe(1);
    expect(sub.stats).toMatchObject({ received: 2, verified: 2, mismatches: 0 });
    expect(ws.acks()).toEqual([1, 2]);
    expect(ws.sent[0]).toBe("ping");
    expect(JSON.parse(ws.sent[1]!)).toEqual({ op: "ack", seq: 1 });
    expect(states.at(-1)).toEqual({ state: "live" });
    sub.close();
  });

  it("reports a tampered book as a client mismatch, withholds it, acks it, and reconnects after 3 in a row", () => {
    vi.useFakeTimers();
    const sub = client().subscribeBook(INST);
    const books = record(sub, "book");
    const mismatches = record(sub, "mismatch");
    const ws = last();
    ws.open();
    ws.message(status("live"));
    ws.message(book(1));
    ws.message(
      book(2, {
        bids: [
          ["3366.1", "8"],
          ["3366", "6"],
        ],
      }),
    ); // one size off by one contract
    expect(books.map((b) => b.seq)).toEqual([1]);
    expect(mismatches).toHaveLength(1);
    expect(mismatches[0]).toMatchObject({ source: "client", instId: INST, seq: 2, expected: -1881014294 });
    expect(mismatches[0]!.computed).not.toBe(-1881014294);
    expect(sub.state).toEqual({ state: "resyncing", reason: "checksum mismatch (client)" });
    expect(sub.book!.seq).toBe(1);
    expect(ws.acks()).toEqual([1, 2]);
    ws.message(book(3));
    expect(sub.state.state).toBe("live");
    for (const seq of [4, 5, 6]) ws.message(book(seq, { checksum: 12345 }));
    expect(sub.stats.mismatches).toBe(4);
    expect(ws.closedWith).toBe(1000); // dropped: this stream is not trusted any more
    expect(sub.linkState).toMatchObject({ kind: "reconnecting", reason: "3 checksum mismatches in a row" });
    vi.advanceTimersByTime(50);
    expect(FakeSocket.all).toHaveLength(2);
    sub.close();
  });

  it("reports the relay's upstream checksum resync as a relay mismatch and follows its status", () => {
    const sub = client().subscribeBook(INST);
    const mismatches = record(sub, "mismatch");
    const states = record(sub, "state");
    last().open();
    last().message(status("live"));
    last().message(status("resyncing", "checksum"));
    last().message(status("resyncing", "gap"));
    last().message(status("live"));
    expect(mismatches).toEqual([expect.objectContaining({ source: "relay", seq: null })]);
    expect(states.map((s) => s.state)).toEqual(["live", "resyncing", "resyncing", "live"]);
    expect(states[1]).toEqual({ state: "resyncing", reason: "checksum" });
    sub.close();
  });

  it("manual ack mode sends nothing until ack(seq), and never acks backwards", () => {
    const sub = client().subscribeBook(INST, { ack: "manual" });
    const ws = last();
    ws.open();
    ws.message(book(7));
    ws.message(book(8));
    expect(ws.acks()).toEqual([]);
    sub.ack(8);
    sub.ack(7);
    expect(ws.acks()).toEqual([8]);
    sub.close();
  });

  it("reports the relay's `lagging` notice (manual mode: no book until it acks)", () => {
    const sub = client().subscribeBook(INST, { ack: "manual" });
    const lagging = record(sub, "lagging");
    last().open();
    last().message({ type: "lagging", instId: INST, scope: "client", lagMs: 2300, boundMs: 2000, at: 1 });
    last().message({ type: "lagging", instId: "ETH-USDT-SWAP", scope: "client", lagMs: 1, boundMs: 1, at: 1 }); // not ours
    expect(lagging).toEqual([{ type: "lagging", instId: INST, scope: "client", lagMs: 2300, boundMs: 2000, at: 1 }]);
    sub.close();
  });

  it("rejects a depth the server would refuse before connecting", () => {
    expect(() => client().subscribeBook(INST, { depth: 401 })).toThrow(RangeError);
    expect(() => client().subscribeBook(INST, { depth: 2.5 })).toThrow(/integer from 1 to 400/);
    expect(FakeSocket.all).toHaveLength(0);
  });
});

describe("subscribeBook: link", () => {
  it("reconnects with exponential backoff (equal jitter, draw 0: 50, 100, 200 ms) reset by a working link", () => {
    vi.useFakeTimers();
    const sub = client().subscribeBook(INST);
    const links = record(sub, "link");
    const states = record(sub, "state");
    const delays: number[] = [];
    for (let i = 0; i < 3; i++) {
      last().drop(1006);
      const r = links.at(-1)!;
      expect(r.kind).toBe("reconnecting");
      if (r.kind === "reconnecting") delays.push(r.at - Date.now());
      vi.advanceTimersByTime(delays.at(-1)! - 1);
      expect(FakeSocket.all).toHaveLength(i + 1);
      vi.advanceTimersByTime(1);
      expect(FakeSocket.all).toHaveLength(i + 2);
    }
    expect(delays).toEqual([50, 100, 200]);
    expect(states).toContainEqual({ state: "down", reason: "connection lost" });
    // A socket that delivers a frame resets the attempt counter.
    last().open();
    last().message(status("live"));
    last().drop(1001, "restart");
    const r = links.at(-1)!;
    expect(r).toMatchObject({ kind: "reconnecting", reason: "server going away: restart", handshakeFailed: false });
    if (r.kind === "reconnecting") expect(r.at - Date.now()).toBe(50);
    vi.advanceTimersByTime(50);
    last().open();
    last().message(book(1));
    expect(sub.stats.reconnects).toBe(1);
    expect(last().acks()).toEqual([1]); // the seq of a new socket is acked from scratch
    sub.close();
  });

  it("stops for good on a fatal error and close 4004", () => {
    vi.useFakeTimers();
    const sub = client().subscribeBook(INST);
    const errors = record(sub, "error");
    last().open();
    last().message({
      type: "error",
      code: "unknown_instrument",
      message: "OKX does not know BTC-USDT-SWAP",
      fatal: true,
    });
    last().drop(4004, "unknown instrument");
    expect(sub.linkState).toEqual({ kind: "stopped", reason: "OKX does not know BTC-USDT-SWAP" });
    expect(sub.state.state).toBe("down");
    expect(errors.map((e) => e.code)).toEqual(["unknown_instrument"]);
    vi.advanceTimersByTime(60_000);
    expect(FakeSocket.all).toHaveLength(1);
    sub.reconnect(); // the user's "retry"
    expect(FakeSocket.all).toHaveLength(2);
    sub.close();
  });

  it("a refused upgrade is diagnosed through /status: a 400 stops the link with the server's message", async () => {
    const asked: string[] = [];
    const f = (async (url: string) => {
      asked.push(url);
      return new Response(
        JSON.stringify({
          error: { code: "invalid_instId", message: "SOL-USDT-SWAP is not served here", path: "instId" },
        }),
        { status: 400 },
      );
    }) as typeof fetch;
    const sub = client({ fetch: f }).subscribeBook("SOL-USDT-SWAP");
    const errors = record(sub, "error");
    last().drop(1006); // closed before it opened
    await vi.waitFor(() => expect(errors).toHaveLength(1));
    expect(asked).toEqual(["http://tradesim.test/status?instId=SOL-USDT-SWAP"]);
    expect(errors[0]).toEqual({
      type: "error",
      code: "invalid_instId",
      message: "SOL-USDT-SWAP is not served here",
      fatal: true,
    });
    expect(sub.linkState).toEqual({ kind: "stopped", reason: "SOL-USDT-SWAP is not served here" });
    sub.close();
  });

  it("emits `stale` once when the book held gets older than the bound, again after a fresh book ages", () => {
    vi.useFakeTimers();
    const sub = client().subscribeBook(INST, { staleAfterMs: 1_000 });
    const stale = record(sub, "stale");
    last().open();
    last().message(book(1, { ts: Date.now() - 400 }));
    expect(sub.ageMs()).toBe(400);
    vi.advanceTimersByTime(600);
    expect(stale).toHaveLength(0);
    vi.advanceTimersByTime(200); // age 1,200 at the next check
    expect(stale).toHaveLength(1);
    expect(stale[0]!.boundMs).toBe(1_000);
    expect(stale[0]!.ageMs).toBeGreaterThan(1_000);
    expect(stale[0]!.ageMs).toBeLessThanOrEqual(1_200);
    expect(sub.stale).toBe(true);
    vi.advanceTimersByTime(5_000);
    expect(stale).toHaveLength(1); // once per crossing
    last().message(book(2));
    expect(sub.stale).toBe(false);
    vi.advanceTimersByTime(1_200);
    expect(stale).toHaveLength(2);
    sub.close();
  });
});

describe("subscribePredictions", () => {
  it("emits forecasts and scores and acks each one (renews the relay's send budget)", () => {
    const sub = client().subscribePredictions(INST);
    const preds = record(sub, "prediction");
    const ws = last();
    expect(ws.url).toBe("ws://tradesim.test/ws/prediction?instId=BTC-USDT-SWAP");
    ws.open();
    const model = { name: "mid60", version: "v" };
    const h = {
      horizonSec: 60,
      predictedReturnBps: 50,
      predictedMid: 100.5,
      lowBps: -100,
      highBps: 100,
      low: 99,
      high: 101,
      gated: false,
      point: "model",
    } as const;
    ws.message(status("live"));
    ws.message({ type: "prediction", instId: INST, ts: 1, mid: 100, horizons: [h], model } satisfies PredictionMessage);
    const hs = {
      horizonSec: 60,
      count: 3,
      windows: 1,
      maeBps: 1,
      rmseBps: 2,
      baselineRmseBps: 2,
      skill: 0,
      modelSkill: null,
      hitRate: null,
      coverage: 1,
      meanWidthBps: 200,
      gated: false,
      bandScale: { low: 1, high: 1 },
      pointScale: null,
    };
    ws.message({ type: "score", instId: INST, ts: 2, horizons: [hs], model } satisfies ScoreMessage);
    expect(preds.map((p) => p.horizons[0]!.predictedMid)).toEqual([100.5]);
    expect(sub.score?.horizons[0]?.count).toBe(3);
    expect(ws.acks()).toEqual([0, 0]);
    sub.close();
  });
});

describe("simulateTrade (real simulate route)", () => {
  const ENV: SimulateBindings = { OKX_REST_URL: "http://okx.test" };
  const f = ((url: string, init?: RequestInit) => simulateRoutes.request(url, init, ENV)) as typeof fetch;
  const ts = new TradeSimClient({ baseUrl: "http://tradesim.test", fetch: f });
  const instrument = {
    instType: "SWAP",
    ctVal: 0.01,
    ctMult: 1,
    ctType: "linear",
    tickSz: 0.1,
    lotSz: 1,
    minSz: 1,
  } as const;
  const orderbook = {
    bids: [["29990", "150"]],
    asks: [
      ["30000", "100"],
      ["30010", "200"],
    ],
  } as const;
  beforeEach(() => instrumentCache.clear());

  it("returns the typed fill: 250 contracts = 100 @ 30000 + 150 @ 30010", async () => {
    const r = await ts.simulateTrade({
      instId: INST,
      side: "buy",
      contracts: 250,
      orderbook: { bids: [...orderbook.bids.map((l) => [...l])], asks: orderbook.asks.map((l) => [...l]) },
      instrument: { ...instrument },
      feeTier: "Lv1",
    });
    expect(r.fill.filledContracts).toBe(250);
    expect(r.fill.avgPrice).toBeCloseTo(30006, 8);
  });

  it("rejects with TradeSimApiError carrying the status, code and field path", async () => {
    const err = await ts
      .simulateTrade({
        instId: INST,
        side: "buy",
        contracts: -1,
        orderbook: { bids: [["29990", "150"]], asks: [["30000", "100"]] },
        instrument: { ...instrument },
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TradeSimApiError);
    expect(err).toMatchObject({ status: 400, code: "invalid_request", path: "contracts" });
  });
});

describe("package build", () => {
  it("bundles dist/index.js without imports outside itself; the bundle verifies OKX's vector", async () => {
    const dir = resolve(REPO_ROOT, "packages/sdk-ts");
    execFileSync(process.execPath, [resolve(dir, "build.mjs")]);
    const file = resolve(dir, "dist/index.js");
    expect(readFileSync(file, "utf8")).not.toMatch(/\bfrom\s*["']|\bimport\s*\(/);
    const mod = (await import(pathToFileURL(file).href)) as typeof import("../packages/sdk-ts/src/index.js");
    expect(
      mod.bookChecksum({
        bids: [
          ["3366.1", "7"],
          ["3366", "6"],
        ],
        asks: [
          ["3366.8", "9"],
          ["3368", "8"],
        ],
      }),
    ).toBe(-1881014294);
    expect(typeof mod.TradeSimClient).toBe("function");
  });
});
