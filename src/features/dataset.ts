/**
 * Training rows from a book (+ trades) stream: the feature vector of every book (via `updateFeatures`, the same call
 * the relay makes, with every trade folded in by `updateTrades` in the order received) plus the realised targets, the
 * log return of the mid over each horizon.
 *
 * Target definition: `asof.ts` (shared with the live scorer in src/predict/score.ts): the mid "at" ts + H is the mid
 * of the last book with ts' <= ts + H, final once a book with ts' > ts + H has arrived. A row is emitted once its
 * LONGEST horizon is final (its shorter ones are then final too); rows whose horizons the stream never covered are
 * dropped.
 *
 * Features of a row only ever see messages up to and including its own book (they are computed before any later
 * message is applied), so there is no look-ahead; test/features-cli.test.ts checks it by truncating the stream.
 */
import { applyBook, createBook, mid } from "../okx/book.js";
import type { OkxMessage } from "../okx/protocol.js";
import { asOfObserve, asOfPending, asOfPush, asOfReset, createAsOfQueue, type AsOfQueue } from "./asof.js";
import {
  createFeatureState,
  NUM_FEATURES,
  parseOkxTrade,
  resetFeatureState,
  updateFeatures,
  updateTrades,
} from "./features.js";

/** The realised outcome of one horizon. */
export interface Target {
  readonly horizonSec: number;
  /** ts of the book whose mid is the realised one (last book at or before ts + horizon). */
  readonly ts: number;
  readonly mid: number;
  /** 1e4 * ln(mid / row mid). */
  readonly bps: number;
}

export interface LabeledRow {
  /** Exchange ts of the book the features were computed on, Unix ms. */
  readonly ts: number;
  readonly mid: number;
  readonly features: Float64Array;
  /** One per horizon, in the order of `DatasetOptions.horizonsSec`. */
  readonly targets: readonly Target[];
}

export interface DatasetStats {
  /** Books messages for the instrument. */
  books: number;
  /** Trades of the instrument folded into the features (and malformed ones skipped). */
  trades: number;
  badTrades: number;
  /** Books that produced a feature vector (applied, changed, both sides present). */
  featureRows: number;
  /** Rows emitted with every target. */
  rows: number;
  /** Rows dropped because the stream ended before their longest horizon was covered. */
  droppedNoHorizon: number;
  /** Book faults (gap, checksum, ...): features restart at the next snapshot. */
  faults: number;
  /** Rows dropped because a fault interrupted the stream inside their horizon. */
  droppedByFault: number;
  firstTs: number | null;
  lastTs: number | null;
}

export interface DatasetOptions {
  readonly instId: string;
  /** Horizons in seconds (at least one; each > 0, distinct). */
  readonly horizonsSec: readonly number[];
  /** Verify OKX checksums while applying (default true). */
  readonly verifyChecksum?: boolean;
}

interface PendingRow {
  readonly ts: number;
  readonly mid: number;
  readonly features: Float64Array;
  readonly targets: Target[];
}

/**
 * Run the feature code over a message stream for one instrument and call `onRow` for every row whose targets are
 * known, in ts order. Returns counts for the CLI's report.
 */
export function buildDataset(
  messages: Iterable<OkxMessage>,
  opts: DatasetOptions,
  onRow: (row: LabeledRow) => void,
): DatasetStats {
  const hs = opts.horizonsSec;
  if (hs.length === 0 || new Set(hs).size !== hs.length)
    throw new Error(`horizons must be distinct and non-empty, got [${hs.join(", ")}]`);
  // One as-of queue per horizon; they are observed shortest first, so the longest realises a row last.
  const order = hs.map((h, i) => [h, i] as const).sort((a, b) => a[0] - b[0]);
  const queues: AsOfQueue<PendingRow>[] = order.map(([h]) => createAsOfQueue<PendingRow>(h));
  const longest = queues.length - 1;
  const book = createBook(opts.instId);
  const state = createFeatureState();
  const stats: DatasetStats = {
    books: 0,
    trades: 0,
    badTrades: 0,
    featureRows: 0,
    rows: 0,
    droppedNoHorizon: 0,
    faults: 0,
    droppedByFault: 0,
    firstTs: null,
    lastTs: null,
  };
  const applyOpts = { verifyChecksum: opts.verifyChecksum ?? true };

  for (const m of messages) {
    if (m.kind === "trades") {
      if (m.arg.instId !== opts.instId) continue;
      for (const d of m.data) {
        const t = parseOkxTrade(d);
        if (t === null) stats.badTrades++;
        else {
          stats.trades++;
          updateTrades(state, t);
        }
      }
      continue;
    }
    if (m.kind !== "books" || m.arg.instId !== opts.instId) continue;
    stats.books++;
    const r = applyBook(book, m.action, m.data, applyOpts);
    if (!r.ok) {
      // The book is gone until the next snapshot: nothing is known about the mid inside the gap.
      stats.faults++;
      stats.droppedByFault += asOfPending(queues[longest]!);
      for (const q of queues) asOfReset(q);
      resetFeatureState(state);
      continue;
    }
    if (!r.changed) continue;
    const m0 = mid(book);
    if (m0 === null) continue;
    const ts = book.ts;
    for (let k = 0; k < queues.length; k++) {
      const h = order[k]![0];
      const slot = order[k]![1];
      asOfObserve(queues[k]!, ts, m0, (it, realisedMid, realisedTs) => {
        const row = it.value;
        row.targets[slot] = {
          horizonSec: h,
          ts: realisedTs,
          mid: realisedMid,
          bps: Math.log(realisedMid / row.mid) * 1e4,
        };
        if (k === longest) {
          stats.rows++;
          onRow(row);
        }
      });
    }
    const f = new Float64Array(NUM_FEATURES);
    if (!updateFeatures(state, book, f)) continue;
    stats.featureRows++;
    stats.firstTs ??= ts;
    stats.lastTs = ts;
    const row: PendingRow = { ts, mid: m0, features: f, targets: new Array<Target>(hs.length) };
    for (const q of queues) asOfPush(q, ts, m0, row);
  }
  stats.droppedNoHorizon += asOfPending(queues[longest]!);
  return stats;
}
