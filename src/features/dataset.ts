/**
 * Training rows from a book stream: the feature vector of every book (via `updateFeatures`, the same call the relay
 * makes) plus the realised target, the log return of the mid over the horizon.
 *
 * Target definition (shared with the live scorer in src/predict/score.ts): the mid "at" ts + H is the mid of the
 * last book with ts' <= ts + H. It is final only once a book with ts' > ts + H has arrived (until then another book
 * could still land at exactly ts + H), so a row is emitted at that moment and rows whose horizon the stream never
 * covered are dropped. Taking the as-of book rather than the first book after ts + H keeps the horizon exact in a
 * quiet market, where the next change may come long after ts + H.
 *
 * Features of a row only ever see books up to and including its own (they are computed before any later message
 * is applied), so there is no look-ahead; test/features-cli.test.ts checks it by truncating the stream.
 */
import { applyBook, createBook, mid } from "../okx/book.js";
import type { OkxMessage } from "../okx/protocol.js";
import { createFeatureState, NUM_FEATURES, resetFeatureState, updateFeatures } from "./features.js";

export interface LabeledRow {
  /** Exchange ts of the book the features were computed on, Unix ms. */
  readonly ts: number;
  readonly mid: number;
  readonly features: Float64Array;
  /** ts of the book whose mid is the realised one (last book at or before ts + horizon). */
  readonly targetTs: number;
  readonly targetMid: number;
  /** 1e4 * ln(targetMid / mid). */
  readonly targetBps: number;
}

export interface DatasetStats {
  /** Books messages for the instrument. */
  books: number;
  /** Books that produced a feature vector (applied, changed, both sides present). */
  featureRows: number;
  /** Rows emitted with a target. */
  rows: number;
  /** Rows dropped because the stream ended before their horizon was covered. */
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
  readonly horizonSec: number;
  /** Verify OKX checksums while applying (default true). */
  readonly verifyChecksum?: boolean;
}

interface Pending {
  ts: number;
  mid: number;
  features: Float64Array;
  due: number;
}

/**
 * Run the feature code over a message stream for one instrument and call `onRow` for every row whose target is
 * known, in ts order. Returns counts for the CLI's report.
 */
export function buildDataset(messages: Iterable<OkxMessage>, opts: DatasetOptions, onRow: (row: LabeledRow) => void): DatasetStats {
  if (!(opts.horizonSec > 0)) throw new Error(`horizon must be > 0 s, got ${opts.horizonSec}`);
  const horizonMs = opts.horizonSec * 1000;
  const book = createBook(opts.instId);
  const state = createFeatureState();
  const stats: DatasetStats = { books: 0, featureRows: 0, rows: 0, droppedNoHorizon: 0, faults: 0, droppedByFault: 0, firstTs: null, lastTs: null };
  // Rows waiting for their horizon, oldest first (a plain array with a moving head: amortised O(1)).
  let pending: Pending[] = [];
  let head = 0;
  let lastTs = -Infinity;
  let lastMid = NaN;
  const applyOpts = { verifyChecksum: opts.verifyChecksum ?? true };

  for (const m of messages) {
    if (m.kind !== "books" || m.arg.instId !== opts.instId) continue;
    stats.books++;
    const r = applyBook(book, m.action, m.data, applyOpts);
    if (!r.ok) {
      // The book is gone until the next snapshot: nothing is known about the mid inside the gap.
      stats.faults++;
      stats.droppedByFault += pending.length - head;
      pending = [];
      head = 0;
      resetFeatureState(state);
      lastMid = NaN;
      lastTs = -Infinity;
      continue;
    }
    if (!r.changed) continue;
    const m0 = mid(book);
    if (m0 === null) continue;
    const ts = book.ts;
    // Every pending row whose horizon ends strictly before this book is now final: its realised mid is the last
    // book's (ts <= due, else the row would have been resolved earlier).
    while (head < pending.length && pending[head]!.due < ts) {
      const p = pending[head++]!;
      stats.rows++;
      onRow({ ts: p.ts, mid: p.mid, features: p.features, targetTs: lastTs, targetMid: lastMid, targetBps: Math.log(lastMid / p.mid) * 1e4 });
    }
    if (head > 1024 && head * 2 > pending.length) {
      pending = pending.slice(head);
      head = 0;
    }
    const f = new Float64Array(NUM_FEATURES);
    if (!updateFeatures(state, book, f)) continue;
    stats.featureRows++;
    stats.firstTs ??= ts;
    stats.lastTs = ts;
    pending.push({ ts, mid: m0, features: f, due: ts + horizonMs });
    lastTs = ts;
    lastMid = m0;
  }
  stats.droppedNoHorizon += pending.length - head;
  return stats;
}
