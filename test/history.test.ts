/**
 * Book history and the empirical latency cost (src/sim/history.ts) on the replayed REAL BTC-USDT-SWAP stream
 * (data/binance-usdm-btcusdt-2024-08-08, 6 minutes of OKX books pushes), against a brute-force recomputation that
 * shares no code with it: its own copies of every book state, its own walk, its own look-up and statistics.
 */
import { describe, expect, it } from "vitest";
import { applyBook, createBook } from "../src/okx/book.js";
import { parseOkxMessage } from "../src/okx/protocol.js";
import { createBookHistory, latencyCostDistribution } from "../src/sim/history.js";
import { DATA, receivedMessages } from "../tools/lib/captures.js";

const DEPTH = 50;
const SPEC = { instType: "SWAP", ctType: "linear", ctVal: 0.01, ctMult: 1, lotSz: 0.01, minSz: 0.01 } as const;

interface State {
  ts: number;
  bids: [number, number][];
  asks: [number, number][];
}

/** Replay the stream into a history and, independently, into a list of top-DEPTH states (consecutive duplicates dropped). */
function replay(opts: { maxEntries?: number; windowMs?: number } = {}) {
  const history = createBookHistory({
    depth: DEPTH,
    maxEntries: opts.maxEntries ?? 20_000,
    windowMs: opts.windowMs ?? 3_600_000,
  });
  const book = createBook("BTC-USDT-SWAP");
  const states: State[] = [];
  for (const { json } of receivedMessages(DATA.btcSwap)) {
    const m = parseOkxMessage(json);
    if (m.kind !== "books") continue;
    const r = applyBook(book, m.action, m.data);
    if (!r.ok || !r.changed) continue;
    history.record(book);
    const s: State = {
      ts: book.ts,
      bids: book.bids.slice(0, DEPTH).map((l) => [l.price, l.size]),
      asks: book.asks.slice(0, DEPTH).map((l) => [l.price, l.size]),
    };
    const prev = states[states.length - 1];
    if (prev !== undefined && JSON.stringify([prev.bids, prev.asks]) === JSON.stringify([s.bids, s.asks])) continue;
    states.push(s);
  }
  return { history, states };
}

/** Plain walk in contracts: the average price of `contracts` on `side`, or null when the side is too thin. */
function naiveAvg(side: [number, number][], contracts: number): number | null {
  let left = contracts;
  let quote = 0;
  for (const [p, sz] of side) {
    const take = Math.min(sz, left);
    quote += take * p;
    left -= take;
    if (left <= 1e-9) return quote / contracts;
  }
  return null;
}

function brute(states: State[], side: "buy" | "sell", contracts: number, latencyMs: number) {
  const last = states[states.length - 1]!.ts;
  const s = side === "buy" ? 1 : -1;
  const diffs: number[] = [];
  let skipped = 0;
  for (const d of states) {
    if (d.ts + latencyMs > last) continue;
    // The book as it stood latencyMs later: the last state at or before that instant (linear scan).
    let later = d;
    for (const x of states) if (x.ts <= d.ts + latencyMs) later = x;
    const mid = (d.bids[0]![0] + d.asks[0]![0]) / 2;
    const a0 = naiveAvg(side === "buy" ? d.asks : d.bids, contracts);
    const a1 = naiveAvg(side === "buy" ? later.asks : later.bids, contracts);
    if (a0 === null || a1 === null) {
      skipped++;
      continue;
    }
    diffs.push((s * (a1 - mid) * 1e4) / mid - (s * (a0 - mid) * 1e4) / mid);
  }
  diffs.sort((a, b) => a - b);
  const q = (p: number) => {
    const h = (diffs.length - 1) * p;
    return diffs[Math.floor(h)]! + (h - Math.floor(h)) * (diffs[Math.ceil(h)]! - diffs[Math.floor(h)]!);
  };
  return {
    decisions: diffs.length,
    skipped,
    mean: diffs.reduce((x, y) => x + y, 0) / diffs.length,
    p50: q(0.5),
    p95: q(0.95),
  };
}

describe("book history on the real stream", () => {
  const { history, states } = replay();

  it("stores every change of the top levels, as plain JSON-able data", () => {
    const snap = history.snapshot();
    expect(snap.entries.length).toBe(states.length);
    expect(states.length).toBeGreaterThan(1000);
    const i = 777;
    expect(snap.entries[i]!.ts).toBe(states[i]!.ts);
    expect(snap.entries[i]!.asks).toEqual(states[i]!.asks.flat());
    expect(JSON.parse(JSON.stringify(snap))).toEqual(snap);
  });

  for (const [side, contracts, latencyMs] of [
    ["buy", 50, 100],
    ["sell", 300, 500],
    ["buy", 2000, 1000],
  ] as const) {
    it(`latency distribution == brute force: ${side} ${contracts} contracts, ${latencyMs} ms`, () => {
      const d = latencyCostDistribution(
        history.snapshot(),
        { side, spec: SPEC, unit: "contracts", amount: contracts },
        latencyMs,
        1e9,
      );
      const b = brute(states, side, contracts, latencyMs);
      expect(d.available).toBe(true);
      if (!d.available) return;
      expect(d.decisions).toBe(b.decisions);
      expect(d.skipped).toBe(b.skipped);
      expect(d.meanBps).toBeCloseTo(b.mean, 9);
      expect(d.p50Bps).toBeCloseTo(b.p50, 9);
      expect(d.p95Bps).toBeCloseTo(b.p95, 9);
      // Latency moved the fill: the spread of outcomes is not zero.
      expect(d.p95Bps).toBeGreaterThan(d.p50Bps);
    });
  }

  it("at most maxDecisions decision points, evenly spaced", () => {
    const d = latencyCostDistribution(
      history.snapshot(),
      { side: "buy", spec: SPEC, unit: "contracts", amount: 50 },
      100,
      200,
    );
    expect(d.available && d.decisions + d.skipped).toBe(200);
  });
});

describe("bounds", () => {
  it("ring capacity: never more than maxEntries, memory fixed at construction", () => {
    const { history } = replay({ maxEntries: 300 });
    expect(history.size).toBe(300);
    expect(history.bytes).toBe(300 * (3 + 4 * DEPTH) * 8);
    const e = history.snapshot().entries;
    // The newest 300 states are kept, oldest first.
    for (let i = 1; i < e.length; i++) expect(e[i]!.ts).toBeGreaterThanOrEqual(e[i - 1]!.ts);
  });

  it("time window: nothing older than windowMs behind the newest entry", () => {
    const { history, states } = replay({ windowMs: 5_000 });
    const e = history.snapshot().entries;
    const newest = e[e.length - 1]!.ts;
    expect(newest).toBe(states[states.length - 1]!.ts);
    expect(e[0]!.ts).toBeGreaterThanOrEqual(newest - 5_000);
    expect(e.length).toBe(states.filter((s) => s.ts >= newest - 5_000).length);
  });

  it("clear() forgets everything (the relay calls it when it drops its book)", () => {
    const { history } = replay({ maxEntries: 50 });
    history.clear();
    expect(history.size).toBe(0);
    expect(history.snapshot().entries).toEqual([]);
  });

  it("says why when there is too little history", () => {
    const h = createBookHistory();
    expect(
      latencyCostDistribution(h.snapshot(), { side: "buy", spec: SPEC, unit: "contracts", amount: 1 }, 100),
    ).toMatchObject({ available: false, reason: expect.stringMatching(/fewer than two/) });
  });
});
