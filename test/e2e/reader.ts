/**
 * The reading client of the misbehaving-client e2e tests (slowreader, abuse): a raw TCP WebSocket on `/ws/okx` that
 * reads and acks every book, and the judgement those tests make of it — once the misbehaving clients come, it gets
 * every book in order without a stall.
 *
 * "Every book" is judged against the relay's own counters, not demanded outright: a client that acks every book
 * still misses books when its acks fall more than the in-flight window behind (the relay conflates it:
 * src/relay/flow.ts) — on a loaded 2-core CI machine a 250 ms stall of the test process does that (seen in CI:
 * seqs 21–25 skipped while the stack was still starting). So a seq jump is allowed only where /status counted a flow
 * decision that explains it, and jumps may skip at most a tenth of the books.
 */
import { expect } from "vitest";
import type { BookMessage } from "../../src/protocol.js";
import type { RelayStats } from "../../src/relay/stats.js";
import { openRawWs } from "../../tools/lib/rawws.js";
import type { Stack } from "./stack.js";

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The relay's /status entry for `instId`. */
export async function relayStats(stack: Stack, instId: string): Promise<RelayStats> {
  const r = (await (await fetch(`${stack.baseUrl}/status?instId=${instId}`)).json()) as { instruments: RelayStats[] };
  return r.instruments[0]!;
}

/** The jumps in a client's book seqs: how many, how many seqs they skipped in all, and steps backwards. */
export function seqGaps(seqs: readonly number[]): { jumps: number; skipped: number; backwards: number } {
  let jumps = 0;
  let skipped = 0;
  let backwards = 0;
  for (let i = 1; i < seqs.length; i++) {
    const d = seqs[i]! - seqs[i - 1]!;
    if (d > 1) {
      jumps++;
      skipped += d - 1;
    } else if (d < 1) backwards++;
  }
  return { jumps, skipped, backwards };
}

type SkipCounters = Pick<RelayStats, "conflated" | "staleSkipped" | "coalesced">;

/**
 * How many jumps in one reading client's seqs the relay accounted for between two /status readings: its
 * conflations and staleness skips (each counted once per episode; only the reading client acks in these tests) and
 * its coalesced broadcasts (behind the exchange, every client skips the same books).
 */
export function skipsAccounted(before: SkipCounters, after: SkipCounters): number {
  const delta = (k: keyof SkipCounters) => after[k] - before[k];
  return delta("conflated") + delta("staleSkipped") + delta("coalesced");
}

export interface Reader {
  /** Wait until `n` books arrived in all (throws after `timeoutMs`). */
  waitBooks(n: number, timeoutMs: number): Promise<void>;
  /** From now on the reader is judged (the misbehaving clients come next). */
  mark(): Promise<void>;
  /** Books since `mark()` and the seq jumps among them. */
  summary(): { books: number; jumps: number; skipped: number };
  /**
   * Wait (up to 20 s) for more than `minBooks` books since `mark()`, then assert what the reader got: in order, a jump only where the relay
   * counted a decision for it, at most a tenth skipped, and no gap between arrivals of a second or more.
   */
  expectUnaffected(minBooks: number): Promise<void>;
  close(): void;
}

/** Open the reading client on `instId` at depth 400. */
export async function openReader(stack: Stack, instId: string): Promise<Reader> {
  const wsUrl = `${stack.baseUrl.replace("http", "ws")}/ws/okx?instId=${instId}&depth=400`;
  const seqs: number[] = [];
  const arrivals: number[] = [];
  let from = 0;
  let stFrom: RelayStats | null = null;
  const ws = await openRawWs(wsUrl, (f) => {
    if (f.opcode !== 1) return;
    const m = JSON.parse(f.payload.toString()) as { type: string };
    if (m.type !== "book") return;
    const { seq } = m as BookMessage;
    seqs.push(seq);
    arrivals.push(performance.now());
    ws.send(JSON.stringify({ op: "ack", seq }));
  });
  const waitBooks = async (n: number, timeoutMs: number) => {
    for (let t = Date.now(); seqs.length < n; await sleep(50))
      if (Date.now() - t > timeoutMs) throw new Error(`the reader got ${seqs.length} of ${n} books`);
  };
  return {
    waitBooks,
    async mark() {
      from = seqs.length;
      stFrom = await relayStats(stack, instId);
    },
    summary() {
      const g = seqGaps(seqs.slice(from));
      return { books: seqs.length - from, jumps: g.jumps, skipped: g.skipped };
    },
    async expectUnaffected(minBooks) {
      if (!stFrom) throw new Error("mark() first");
      await waitBooks(from + minBooks + 1, 20_000);
      const measured = seqs.slice(from);
      const stEnd = await relayStats(stack, instId); // after the slice: it counts every decision behind a jump in it
      expect(measured.length).toBeGreaterThan(minBooks);
      const gaps = seqGaps(measured);
      expect(gaps.backwards).toBe(0);
      expect(gaps.jumps).toBeLessThanOrEqual(skipsAccounted(stFrom, stEnd));
      expect(gaps.skipped).toBeLessThan(measured.length / 10);
      let maxGap = 0;
      for (let i = from + 1; i < arrivals.length; i++) maxGap = Math.max(maxGap, arrivals[i]! - arrivals[i - 1]!);
      expect(maxGap).toBeLessThan(1_000);
    },
    close: () => ws.close(),
  };
}
