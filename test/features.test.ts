import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  createFeatureState,
  F,
  FEATURE_NAMES,
  NUM_FEATURES,
  parseOkxTrade,
  resetFeatureState,
  TRADE_HISTORY_CAP,
  TRADE_WINDOWS_SEC,
  updateFeatures,
  updateTrades,
  WINDOWS_SEC,
  type BookView,
  type FeatureName,
  type FeatureState,
  type TradeView,
} from "../src/features/features.js";
import { applyBook, createBook } from "../src/okx/book.js";
import { parseOkxMessage } from "../src/okx/protocol.js";
import { DATA, receivedMessages } from "../tools/lib/captures.js";

type Lv = [price: number, size: number];
const book = (ts: number, bids: Lv[], asks: Lv[]): BookView => ({
  ts,
  bids: bids.map(([price, size]) => ({ price, size })),
  asks: asks.map(([price, size]) => ({ price, size })),
});

const deepBids: Lv[] = [
  [99, 1],
  [98, 1],
  [97, 1],
  [96, 1],
  [95, 10],
];
const deepAsks: Lv[] = [
  [102, 1],
  [103, 1],
  [104, 1],
  [105, 1],
  [106, 5],
];
const bps = (a: number, b: number) => Math.log(a / b) * 1e4;
const r = bps(100.75, 100.5); // the one mid move of the sequence, 24.8448... bps

/**
 * A hand-checked sequence. Each expected value is worked out in the comment beside it; only the listed features are
 * checked at that step. OFI per event (Cont et al.): e = [Pb>=Pb']qb - [Pb<=Pb']qb' - [Pa<=Pa']qa + [Pa>=Pa']qa'.
 */
const steps: { name: string; book: BookView; expect: Partial<Record<FeatureName, number>> }[] = [
  {
    name: "A t=1.0s first book",
    book: book(1000, [[100, 2], ...deepBids], [[101, 1], ...deepAsks]),
    expect: {
      spread_bps: (1 / 100.5) * 1e4, // 99.5025
      microprice_bps: ((302 / 3 - 100.5) / 100.5) * 1e4, // micro = (100*1 + 101*2)/3
      imb_l1: 1 / 3, // (2-1)/(2+1)
      imb_5: (6 - 5) / 11, // bids 2+1+1+1+1, asks 1+1+1+1+1
      imb_10: (16 - 10) / 26, // all six levels: 16 vs 10
      imb_25: (16 - 10) / 26,
      ret_1s: 0,
      ret_60s: 0,
      ofi_1s: 0,
      ofi_60s: 0,
      rv_60s: 0,
      since_mid_change_s: 0,
    },
  },
  {
    name: "B t=1.5s bid queue grows 2 -> 3",
    book: book(1500, [[100, 3], ...deepBids], [[101, 1], ...deepAsks]),
    expect: {
      imb_l1: 0.5, // (3-1)/4
      ret_1s: 0,
      // e_B = 3 - 2 = 1; no event at or before 0.5 s, so the window is the whole history A, B:
      // sum e = 0 + 1, mean L1 depth = (1.5 + 2) / 2 = 1.75
      ofi_1s: 1 / 1.75,
      ofi_60s: 1 / 1.75,
      since_mid_change_s: 0.5,
    },
  },
  {
    name: "C t=2.6s new best bid 100.5 x 1: mid 100.5 -> 100.75",
    book: book(2600, [[100.5, 1], [100, 3], ...deepBids], [[101, 1], ...deepAsks]),
    expect: {
      spread_bps: (0.5 / 100.75) * 1e4,
      ret_1s: r, // as of 1.6 s: B (mid 100.5)
      ret_5s: r, // no event at or before -2.4 s: from A (mid 100.5)
      // e_C = 1 (bid up: +qb) - 1 (ask same price: -qa) + 1 (+qa') = 1; window (B, C]: depth (1+1)/2 = 1
      ofi_1s: 1,
      ofi_5s: 2 / 1.5, // A, B, C: sum 0+1+1, mean depth (1.5+2+1)/3
      rv_60s: r, // one squared return
      since_mid_change_s: 0,
    },
  },
  {
    name: "D t=7.0s best ask queue shrinks 1 -> 0.5",
    book: book(7000, [[100.5, 1], [100, 3], ...deepBids], [[101, 0.5], ...deepAsks]),
    expect: {
      ret_1s: 0, // as of 6.0 s: C
      ret_5s: r, // as of 2.0 s: B
      ret_30s: r, // whole history from A
      // e_D = (1 - 1) - 0.5 + 1 = 0.5; window (C, D]: depth (1+0.5)/2 = 0.75
      ofi_1s: 0.5 / 0.75,
      ofi_5s: 1.5 / ((1 + 0.75) / 2), // C, D
      rv_60s: r,
      since_mid_change_s: 4.4,
    },
  },
  {
    name: "E t=70s best bid 100.5 pulled: mid back to 100.5",
    book: book(70000, [[100, 3], ...deepBids], [[101, 0.5], ...deepAsks]),
    expect: {
      ret_1s: -r,
      ret_60s: -r, // as of 10 s: D (mid 100.75)
      ofi_60s: -1 / ((3 + 0.5) / 2), // e_E = -qb' = -1 (ask unchanged: -0.5 + 0.5); window (D, E]
      rv_60s: r, // only E's return is inside (10 s, 70 s]
      since_mid_change_s: 0,
    },
  },
  {
    name: "F t=140s same book 70 s later",
    book: book(140000, [[100, 3], ...deepBids], [[101, 0.5], ...deepAsks]),
    expect: { ret_60s: 0, ofi_60s: 0, rv_60s: 0, since_mid_change_s: 60 /* capped */ },
  },
];

describe("features on a hand-checked book sequence", () => {
  const s = createFeatureState();
  const out = new Float64Array(NUM_FEATURES);
  it.each(steps.map((st) => [st.name, st] as const))("%s", (_name, st) => {
    expect(updateFeatures(s, st.book, out)).toBe(true);
    for (const [k, v] of Object.entries(st.expect)) {
      expect(out[F[k as FeatureName]], k).toBeCloseTo(v, 10);
    }
  });
});

/** Trades between books: each book step lists the trades received before it and the trade features expected. */
const lastBps = (px: number) => ((px - 100.5) / 100.5) * 1e4;
const tradeSteps: {
  name: string;
  trades: TradeView[];
  book: BookView;
  expect: Partial<Record<FeatureName, number>>;
}[] = [
  {
    name: "A t=1.0s no trade yet: every trade feature is neutral",
    trades: [],
    book: book(1000, [[100, 1]], [[101, 1]]),
    expect: { tflow_5s: 0, tflow_30s: 0, tflow_60s: 0, tcount_5s: 0, tcount_30s: 0, tcount_60s: 0, last_trade_bps: 0 },
  },
  {
    name: "B t=3.0s after buy 2 @101 (1.5 s) and sell 1 @100 (2.0 s)",
    trades: [
      { ts: 1500, px: 101, sz: 2, side: "buy" },
      { ts: 2000, px: 100, sz: 1, side: "sell" },
    ],
    book: book(3000, [[100, 2]], [[101, 1]]),
    expect: {
      tflow_5s: 1 / 3,
      tflow_60s: 1 / 3,
      tcount_5s: Math.log(3),
      tcount_60s: Math.log(3),
      last_trade_bps: lastBps(100),
    },
  },
  {
    name: "C t=7.0s after sell 3 @100 (6.8 s): the 5 s window (2.0, 7.0] holds only that one",
    trades: [{ ts: 6800, px: 100, sz: 3, side: "sell" }],
    book: book(7000, [[100, 1]], [[101, 1]]),
    // 5 s: sell 3 -> -1, one trade; 30 s: buy 2, sell 1 + 3 -> (2 - 4) / 6, three trades
    expect: {
      tflow_5s: -1,
      tcount_5s: Math.log(2),
      tflow_30s: -1 / 3,
      tcount_30s: Math.log(4),
      last_trade_bps: lastBps(100),
    },
  },
  {
    name: "D t=70s: every window is empty and the last trade is over 60 s old: neutral again",
    trades: [],
    book: book(70000, [[100, 1]], [[101, 1]]),
    expect: { tflow_5s: 0, tflow_60s: 0, tcount_5s: 0, tcount_60s: 0, last_trade_bps: 0 },
  },
  {
    name: "E t=70.5s a trade stamped 71 s was received before this book: it counts (it is known)",
    trades: [{ ts: 71000, px: 102, sz: 1, side: "buy" }],
    book: book(70500, [[100, 1]], [[101, 1]]),
    expect: { tflow_5s: 1, tcount_5s: Math.log(2), tcount_60s: Math.log(2), last_trade_bps: lastBps(102) },
  },
];

describe("trade features on a hand-checked sequence", () => {
  const s = createFeatureState();
  const out = new Float64Array(NUM_FEATURES);
  it.each(tradeSteps.map((st) => [st.name, st] as const))("%s", (_name, st) => {
    for (const t of st.trades) updateTrades(s, t);
    expect(updateFeatures(s, st.book, out)).toBe(true);
    for (const [k, v] of Object.entries(st.expect)) {
      expect(out[F[k as FeatureName]], k).toBeCloseTo(v, 12);
    }
  });

  it("parseOkxTrade reads OKX's strings and refuses malformed trades", () => {
    const d = { instId: "BTC-USDT", tradeId: "1", px: "61805.2", sz: "0.5", side: "sell", ts: "1723161280800" };
    expect(parseOkxTrade(d)).toEqual({ px: 61805.2, sz: 0.5, side: "sell", ts: 1723161280800 });
    for (const bad of [
      { px: "x" },
      { px: "0" },
      { sz: "-1" },
      { sz: 2 },
      { side: "long" },
      { ts: "1.5" },
      { ts: undefined },
    ]) {
      expect(parseOkxTrade({ ...d, ...bad }), JSON.stringify(bad)).toBeNull();
    }
  });

  it("reset forgets the trades; trades without books stay bounded", () => {
    const st = createFeatureState(16);
    const o = new Float64Array(NUM_FEATURES);
    updateTrades(st, { ts: 1000, px: 100, sz: 1, side: "buy" });
    resetFeatureState(st);
    updateFeatures(st, book(1500, [[100, 1]], [[101, 1]]), o);
    expect(o[F.tcount_60s]).toBe(0);
    expect(o[F.last_trade_bps]).toBe(0);
    for (let i = 0; i < 200_000; i++) updateTrades(st, { ts: 2000 + i, px: 100, sz: 1, side: "sell" });
    expect(st.tEnd - st.tStart).toBeLessThanOrEqual(TRADE_HISTORY_CAP);
    expect(st.tTs.length).toBeLessThanOrEqual(2 * TRADE_HISTORY_CAP);
  });
});

describe("features: edge cases", () => {
  it("names and indices agree", () => {
    expect(FEATURE_NAMES.length).toBe(NUM_FEATURES);
    for (const [i, n] of FEATURE_NAMES.entries()) expect(F[n]).toBe(i);
  });

  it("a book with an empty side records nothing", () => {
    const s = createFeatureState();
    const out = new Float64Array(NUM_FEATURES).fill(7);
    expect(updateFeatures(s, book(1, [[1, 1]], []), out)).toBe(false);
    expect(s.count).toBe(0);
    expect([...out].every((v) => v === 7)).toBe(true);
  });

  it("a timestamp going backwards is treated as the last one", () => {
    const s = createFeatureState();
    const out = new Float64Array(NUM_FEATURES);
    updateFeatures(s, book(5000, [[100, 1]], [[101, 1]]), out);
    updateFeatures(s, book(4000, [[100.5, 1]], [[101, 1]]), out);
    expect(s.lastTs).toBe(5000);
    expect(out[F.since_mid_change_s]).toBe(0);
  });

  it("reset forgets the history", () => {
    const s = createFeatureState();
    const out = new Float64Array(NUM_FEATURES);
    updateFeatures(s, book(1000, [[100, 1]], [[101, 1]]), out);
    updateFeatures(s, book(2000, [[102, 1]], [[103, 1]]), out);
    expect(out[F.ret_5s]).not.toBe(0);
    resetFeatureState(s);
    updateFeatures(s, book(3000, [[102, 1]], [[103, 1]]), out);
    expect(out[F.ret_5s]).toBe(0);
    expect(out[F.ofi_5s]).toBe(0);
    expect(s.count).toBe(1);
  });

  it("writes into a Float32Array as the rounded Float64 values", () => {
    const s64 = createFeatureState();
    const s32 = createFeatureState();
    const o64 = new Float64Array(NUM_FEATURES);
    const o32 = new Float32Array(NUM_FEATURES);
    for (const st of steps) {
      updateFeatures(s64, st.book, o64);
      updateFeatures(s32, st.book, o32);
      expect([...o32]).toEqual([...o64].map(Math.fround));
    }
  });
});

/** Brute-force reference: recompute every windowed feature from the full history (O(n) per event). */
function reference(hist: { ts: number; bidPx: number; bidSz: number; askPx: number; askSz: number }[]) {
  const n = hist.length - 1;
  const cur = hist[n]!;
  const lm = (h: (typeof hist)[number]) => Math.log((h.bidPx + h.askPx) / 2);
  const e = (k: number) => {
    if (k === 0) return 0;
    const a = hist[k]!;
    const p = hist[k - 1]!;
    return (
      (a.bidPx >= p.bidPx ? a.bidSz : 0) -
      (a.bidPx <= p.bidPx ? p.bidSz : 0) -
      (a.askPx <= p.askPx ? a.askSz : 0) +
      (a.askPx >= p.askPx ? p.askSz : 0)
    );
  };
  const asOf = (w: number) => {
    let p = -1;
    for (let k = 0; k < n; k++) if (hist[k]!.ts <= cur.ts - w * 1000) p = k;
    return p;
  };
  const ret: number[] = [];
  const ofi: number[] = [];
  for (const w of WINDOWS_SEC) {
    const p = asOf(w);
    ret.push((lm(cur) - lm(hist[Math.max(p, 0)]!)) * 1e4);
    let sum = 0;
    let depth = 0;
    for (let k = p + 1; k <= n; k++) {
      sum += e(k);
      depth += (hist[k]!.bidSz + hist[k]!.askSz) / 2;
    }
    ofi.push(sum / (depth / (n - p)));
  }
  const rv = (w: number) => {
    const p = asOf(w);
    let sq = 0;
    for (let k = Math.max(p + 1, 1); k <= n; k++) sq += ((lm(hist[k]!) - lm(hist[k - 1]!)) * 1e4) ** 2;
    return Math.sqrt(sq);
  };
  let lastChange = hist[0]!.ts;
  for (let k = 1; k <= n; k++) if (lm(hist[k]!) !== lm(hist[k - 1]!)) lastChange = hist[k]!.ts;
  return { ret, ofi, rv: rv(60), rv10: rv(10), rv300: rv(300), since: Math.min(60, (cur.ts - lastChange) / 1000) };
}

/** Brute-force trade features at book time `now` from every trade received so far (ts already made non-decreasing). */
function tradeReference(
  trades: { ts: number; px: number; sz: number; side: "buy" | "sell" }[],
  now: number,
  mid: number,
) {
  const flow: number[] = [];
  const count: number[] = [];
  for (const w of TRADE_WINDOWS_SEC) {
    const inside = trades.filter((t) => t.ts > now - w * 1000);
    const buy = inside.filter((t) => t.side === "buy").reduce((a, t) => a + t.sz, 0);
    const sell = inside.filter((t) => t.side === "sell").reduce((a, t) => a + t.sz, 0);
    flow.push(buy + sell > 0 ? (buy - sell) / (buy + sell) : 0);
    count.push(Math.log1p(inside.length));
  }
  const last = trades[trades.length - 1];
  const lastBps = last && last.ts > now - 60_000 ? ((last.px - mid) / mid) * 1e4 : 0;
  return { flow, count, lastBps };
}

describe("features: incremental windows == brute force (random streams, tiny buffers to force compaction/growth)", () => {
  it("property", () => {
    const trade = fc.record({
      // offset from the previous book; may pass the next book's ts (a trade received before a book, stamped later)
      // or go backwards (clamped to the last trade's ts)
      dt: fc.integer({ min: -2000, max: 9000 }),
      sz: fc.integer({ min: 1, max: 20 }),
      buy: fc.boolean(),
      px: fc.integer({ min: 990, max: 1010 }),
    });
    const ev = fc.record({
      dt: fc.oneof(fc.integer({ min: 0, max: 7000 }), fc.integer({ min: 0, max: 120_000 })),
      dBid: fc.integer({ min: -2, max: 2 }),
      spreadTicks: fc.integer({ min: 1, max: 3 }),
      bidSz: fc.integer({ min: 1, max: 50 }),
      askSz: fc.integer({ min: 1, max: 50 }),
      trades: fc.array(trade, { maxLength: 4 }),
    });
    fc.assert(
      fc.property(fc.array(ev, { minLength: 1, maxLength: 300 }), (events) => {
        const s: FeatureState = createFeatureState(16);
        const out = new Float64Array(NUM_FEATURES);
        const hist: Parameters<typeof reference>[0] = [];
        const trades: Parameters<typeof tradeReference>[0] = [];
        let ts = 1_700_000_000_000;
        let bidTicks = 1000;
        for (const x of events) {
          for (const t of x.trades) {
            const side = t.buy ? "buy" : "sell";
            const tts = Math.max(ts + t.dt, trades.length > 0 ? trades[trades.length - 1]!.ts : -Infinity);
            trades.push({ ts: tts, px: t.px / 10, sz: t.sz, side });
            updateTrades(s, { ts: ts + t.dt, px: t.px / 10, sz: t.sz, side });
          }
          ts += x.dt;
          bidTicks += x.dBid;
          const bidPx = bidTicks / 10;
          const askPx = (bidTicks + x.spreadTicks) / 10;
          hist.push({ ts, bidPx, bidSz: x.bidSz, askPx, askSz: x.askSz });
          updateFeatures(s, book(ts, [[bidPx, x.bidSz]], [[askPx, x.askSz]]), out);
          const ref = reference(hist);
          WINDOWS_SEC.forEach((_w, i) => {
            expect(out[F.ret_1s + i]).toBeCloseTo(ref.ret[i]!, 6);
            expect(out[F.ofi_1s + i]).toBeCloseTo(ref.ofi[i]!, 6);
          });
          expect(out[F.rv_60s]).toBeCloseTo(ref.rv, 6);
          expect(out[F.rv_10s]).toBeCloseTo(ref.rv10, 6);
          expect(out[F.rv_300s]).toBeCloseTo(ref.rv300, 6);
          expect(out[F.since_mid_change_s]).toBeCloseTo(ref.since, 9);
          const tr = tradeReference(trades, ts, (bidPx + askPx) / 2);
          TRADE_WINDOWS_SEC.forEach((_w, i) => {
            expect(out[F.tflow_5s + i]).toBeCloseTo(tr.flow[i]!, 9);
            expect(out[F.tcount_5s + i]).toBeCloseTo(tr.count[i]!, 12);
          });
          expect(out[F.last_trade_bps]).toBeCloseTo(tr.lastBps, 9);
          expect(s.tEnd - s.tStart).toBeLessThanOrEqual(trades.length);
          // Only what the longest window can reach is kept.
          expect(s.end - s.start).toBeLessThanOrEqual(hist.length);
        }
      }),
      { numRuns: 60 },
    );
  });
});

describe("features on the real 6-minute BTC stream", () => {
  it("every book yields finite features, the history stays bounded, and it is cheap", () => {
    const b = createBook("BTC-USDT-SWAP");
    const s = createFeatureState();
    const out = new Float32Array(NUM_FEATURES);
    let rows = 0;
    let maxLive = 0;
    let maxIn300 = 0;
    const seen: number[] = [];
    let j = 0;
    const msgs = receivedMessages(DATA.btcSwap).map((m) => parseOkxMessage(m.json));
    let ms = 0;
    for (const m of msgs) {
      if (m.kind !== "books") continue;
      const res = applyBook(b, m.action, m.data);
      if (!res.ok || !res.changed) continue;
      const t0 = performance.now();
      const ok = updateFeatures(s, b, out);
      ms += performance.now() - t0;
      expect(ok).toBe(true);
      rows++;
      maxLive = Math.max(maxLive, s.end - s.start);
      seen.push(s.lastTs);
      while (seen[j]! <= s.lastTs - 300_000) j++;
      maxIn300 = Math.max(maxIn300, seen.length - j);
      for (let i = 0; i < NUM_FEATURES; i++) expect(Number.isFinite(out[i]!), FEATURE_NAMES[i]).toBe(true);
    }
    expect(rows).toBeGreaterThan(6000);
    // The longest window is 300 s (rv_300s): the history holds the events inside it plus the as-of reference.
    expect(maxLive).toBeLessThanOrEqual(maxIn300 + 1);
    expect(s.end - s.start).toBeLessThan(rows);
    console.log(
      `features: ${rows} books, ${((ms * 1000) / rows).toFixed(1)} us/book (updateFeatures only), max live history ${maxLive}`,
    );
  });
});
