/**
 * Recent book history for latency that changes the fill.
 *
 * `createBookHistory` keeps a bounded ring of the top `depth` levels a side after every applied book change (the
 * relay calls `record(book)`; `src/okx/book.ts` timestamps are exchange milliseconds). A change below the stored
 * depth leaves the stored top unchanged and is not stored again, so the ring spends its room on changes that
 * matter. Memory is fixed at construction: one Float64Array of maxEntries x (3 + 4 x depth) doubles (defaults
 * 2,000 x 203 x 8 B = 3.2 MB), and entries older than `windowMs` behind the newest are dropped.
 *
 * `latencyCostDistribution` then answers "what does waiting latencyMs cost this order?" empirically: at each past
 * decision point (a stored book) it fills the order at once and against the book as it stood latencyMs later, and
 * reports the distribution of the cost difference in bps of the decision-time mid. What it is: an estimate from
 * the recent stream of this instrument. What it is not: a forecast, a model of other traders reacting to YOUR
 * order, or anything beyond the stored depth (decisions whose order the stored top cannot fill are skipped and
 * counted).
 */
import { fillMarketOrder, type FillSpec, type OrderUnit, type PriceLevel } from "./fill.js";

/** What `record` reads from a book (src/okx/book.ts `Book` satisfies it). */
export interface HistoryBook {
  readonly bids: readonly PriceLevel[];
  readonly asks: readonly PriceLevel[];
  /** Exchange timestamp, Unix ms. */
  readonly ts: number;
}

export interface BookHistoryOptions {
  /** Levels stored per side (default 50). */
  readonly depth?: number;
  /** Keep entries at most this far behind the newest, ms (default 5 minutes). */
  readonly windowMs?: number;
  /** Ring capacity (default 2,000). */
  readonly maxEntries?: number;
}

/** One stored book: levels flattened as [price0, size0, price1, size1, ...], best first. */
export interface HistoryEntry {
  readonly ts: number;
  readonly bids: number[];
  readonly asks: number[];
}

/** Plain JSON-able data (returned over Durable Object RPC). Entries oldest first. */
export interface BookHistorySnapshot {
  readonly depth: number;
  readonly windowMs: number;
  readonly entries: HistoryEntry[];
}

export interface BookHistory {
  /** Call after every applied book change. */
  record(book: HistoryBook): void;
  snapshot(): BookHistorySnapshot;
  /**
   * Forget everything: call when the book is dropped (gap, checksum fault, resync), since the stored books would
   * otherwise claim the pre-fault book stood until the next snapshot.
   */
  clear(): void;
  /** Entries held now. */
  readonly size: number;
  /** Bytes reserved by the ring (fixed). */
  readonly bytes: number;
}

/** Create a bounded book history (see the module comment for the bounds). */
export function createBookHistory(opts: BookHistoryOptions = {}): BookHistory {
  const depth = opts.depth ?? 50;
  const windowMs = opts.windowMs ?? 300_000;
  const cap = opts.maxEntries ?? 2000;
  // Slot layout: ts, bid count, ask count, bids (price, size) x depth, asks (price, size) x depth.
  const stride = 3 + 4 * depth;
  const ring = new Float64Array(cap * stride);
  let head = 0; // oldest
  let count = 0;

  const slot = (i: number) => ((head + i) % cap) * stride;

  function sameAsLast(book: HistoryBook): boolean {
    if (count === 0) return false;
    const o = slot(count - 1);
    const nb = Math.min(depth, book.bids.length);
    const na = Math.min(depth, book.asks.length);
    if (ring[o + 1] !== nb || ring[o + 2] !== na) return false;
    for (let i = 0; i < nb; i++) {
      const l = book.bids[i]!;
      if (ring[o + 3 + 2 * i] !== l.price || ring[o + 4 + 2 * i] !== l.size) return false;
    }
    const a = o + 3 + 2 * depth;
    for (let i = 0; i < na; i++) {
      const l = book.asks[i]!;
      if (ring[a + 2 * i] !== l.price || ring[a + 1 + 2 * i] !== l.size) return false;
    }
    return true;
  }

  return {
    record(book) {
      if (sameAsLast(book)) return;
      if (count === cap) {
        head = (head + 1) % cap;
        count--;
      }
      const o = slot(count);
      const nb = Math.min(depth, book.bids.length);
      const na = Math.min(depth, book.asks.length);
      ring[o] = book.ts;
      ring[o + 1] = nb;
      ring[o + 2] = na;
      for (let i = 0; i < nb; i++) {
        ring[o + 3 + 2 * i] = book.bids[i]!.price;
        ring[o + 4 + 2 * i] = book.bids[i]!.size;
      }
      const a = o + 3 + 2 * depth;
      for (let i = 0; i < na; i++) {
        ring[a + 2 * i] = book.asks[i]!.price;
        ring[a + 1 + 2 * i] = book.asks[i]!.size;
      }
      count++;
      // Time bound: drop what fell out of the window behind this (the newest) entry.
      while (count > 1 && ring[slot(0)]! < book.ts - windowMs) {
        head = (head + 1) % cap;
        count--;
      }
    },
    snapshot() {
      const entries: HistoryEntry[] = new Array<HistoryEntry>(count);
      for (let i = 0; i < count; i++) {
        const o = slot(i);
        const nb = ring[o + 1]!;
        const na = ring[o + 2]!;
        const a = o + 3 + 2 * depth;
        entries[i] = {
          ts: ring[o]!,
          bids: Array.from(ring.subarray(o + 3, o + 3 + 2 * nb)),
          asks: Array.from(ring.subarray(a, a + 2 * na)),
        };
      }
      return { depth, windowMs, entries };
    },
    clear() {
      head = 0;
      count = 0;
    },
    get size() {
      return count;
    },
    bytes: ring.byteLength,
  };
}

/** The order whose latency cost is estimated. */
export interface LatencyOrder {
  readonly side: "buy" | "sell";
  readonly spec: FillSpec;
  readonly unit: OrderUnit;
  readonly amount: number;
}

export type LatencyDistribution =
  | {
      readonly available: true;
      readonly decisions: number;
      readonly skipped: number;
      /** Span from the first decision to the last book used, ms. */
      readonly windowMs: number;
      /** Mean, median and 95th percentile (linear interpolation between order statistics) of the difference, bps. */
      readonly meanBps: number;
      readonly p50Bps: number;
      readonly p95Bps: number;
    }
  | { readonly available: false; readonly reason: string; readonly decisions: number; readonly skipped: number };

function levelsOf(flat: readonly number[]): PriceLevel[] {
  const out = new Array<PriceLevel>(flat.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = { price: flat[2 * i]!, size: flat[2 * i + 1]! };
  return out;
}

/** Quantile q of sorted values, linear interpolation between order statistics (R type 7). */
function quantile(sorted: readonly number[], q: number): number {
  const h = (sorted.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.ceil(h);
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
}

/**
 * Distribution of cost(fill latencyMs after the decision) - cost(fill at the decision), each cost being
 * sign x (avgPrice - decision mid) / decision mid in bps (positive = worse for you). Decision points are the
 * stored books whose ts + latencyMs is not later than the newest stored book; at most `maxDecisions` of them,
 * evenly spaced, the latest always included. The delayed fill uses the last stored book with ts <= decision ts +
 * latencyMs. Decisions where either fill is not complete (the stored top is too thin) are skipped and counted.
 */
export function latencyCostDistribution(
  snap: BookHistorySnapshot,
  order: LatencyOrder,
  latencyMs: number,
  maxDecisions = 1000,
): LatencyDistribution {
  const e = snap.entries;
  if (e.length < 2)
    return {
      available: false,
      reason: "fewer than two stored books: the history has not filled yet",
      decisions: 0,
      skipped: 0,
    };
  const last = e[e.length - 1]!.ts;
  // Decision candidates: indices 0..m-1 with ts + latency <= last.
  let m = 0;
  while (m < e.length && e[m]!.ts + latencyMs <= last) m++;
  if (m === 0)
    return {
      available: false,
      reason: `the stored history spans ${last - e[0]!.ts} ms, less than latencyMs ${latencyMs}`,
      decisions: 0,
      skipped: 0,
    };
  const step = m > maxDecisions ? m / maxDecisions : 1;
  const diffs: number[] = [];
  let skipped = 0;
  let first = Infinity;
  let lastUsed = -Infinity;
  let j = 0;
  const s = order.side === "buy" ? 1 : -1;
  const count = Math.min(m, maxDecisions);
  for (let c = 0; c < count; c++) {
    // Evenly spaced, ending at the latest candidate.
    const i = m - 1 - Math.floor((count - 1 - c) * step);
    const d = e[i]!;
    const t = d.ts + latencyMs;
    if (j < i) j = i;
    while (j + 1 < e.length && e[j + 1]!.ts <= t) j++;
    const now = fillCost(d, d, order, s);
    const later = fillCost(e[j]!, d, order, s);
    if (now === null || later === null) {
      skipped++;
      continue;
    }
    diffs.push(later - now);
    if (d.ts < first) first = d.ts;
    if (e[j]!.ts > lastUsed) lastUsed = e[j]!.ts;
  }
  if (diffs.length === 0)
    return {
      available: false,
      reason: "the stored top levels could not fill this order at any decision point",
      decisions: 0,
      skipped,
    };
  let sum = 0;
  for (const x of diffs) sum += x;
  diffs.sort((a, b) => a - b);
  return {
    available: true,
    decisions: diffs.length,
    skipped,
    windowMs: Math.max(lastUsed, first + latencyMs) - first,
    meanBps: sum / diffs.length,
    p50Bps: quantile(diffs, 0.5),
    p95Bps: quantile(diffs, 0.95),
  };
}

/** Cost in bps of filling `order` on `book`, against the mid of `decision`; null when the fill is not complete. */
function fillCost(book: HistoryEntry, decision: HistoryEntry, order: LatencyOrder, s: number): number | null {
  if (decision.bids.length === 0 || decision.asks.length === 0) return null;
  const mid = (decision.bids[0]! + decision.asks[0]!) / 2;
  const side = order.side === "buy" ? book.asks : book.bids;
  const f = fillMarketOrder(levelsOf(side), order.spec, order.unit, order.amount);
  if (!f.ok || !f.fullyFilled) return null;
  return (s * (f.avgPrice - mid) * 1e4) / mid;
}
