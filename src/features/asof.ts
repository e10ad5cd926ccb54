/**
 * The ONE definition of "the mid as of ts + horizon", shared by the training labels (dataset.ts) and the live scorer
 * (src/predict/score.ts), so a model is scored live against exactly the quantity it was trained to forecast.
 *
 * Rule: an item pushed on the book at ts is realised by the mid of the LAST book with ts' <= ts + horizon. That mid
 * is final only once a book with ts' > ts + horizon has arrived (until then another book could still land at exactly
 * ts + horizon), so items are resolved at that moment, against the previous book's mid. Taking the as-of book rather
 * than the first book after ts + horizon keeps the horizon exact in a quiet market, where the next change may come
 * long after it.
 *
 * Plain data, exchange time only; items are resolved oldest first. Memory: at most `maxPending` items (the oldest are
 * dropped beyond it), and the array is compacted as the head moves, so it holds about one horizon of items.
 */

export interface AsOfItem<T> {
  /** Exchange ts of the book the item was made on, Unix ms. */
  readonly ts: number;
  readonly mid: number;
  /** ts + horizon. */
  readonly due: number;
  readonly value: T;
}

export interface AsOfQueue<T> {
  readonly horizonMs: number;
  readonly maxPending: number;
  items: AsOfItem<T>[];
  head: number;
  /** Last observed book: its mid is the as-of mid for any due before the next book. */
  lastTs: number;
  lastMid: number;
  /** Items dropped unresolved (reset, bound, or made on a book never observed). */
  dropped: number;
}

/** A new, empty queue for one horizon. */
export function createAsOfQueue<T>(horizonSec: number, maxPending = Number.POSITIVE_INFINITY): AsOfQueue<T> {
  if (!(horizonSec > 0)) throw new Error(`horizon must be > 0 s, got ${horizonSec}`);
  return { horizonMs: horizonSec * 1000, maxPending, items: [], head: 0, lastTs: -Infinity, lastMid: NaN, dropped: 0 };
}

/** Queue an item made on the book at `ts` with mid `mid`. Items must be pushed in ts order (they are, per book). */
export function asOfPush<T>(q: AsOfQueue<T>, ts: number, mid: number, value: T): void {
  q.items.push({ ts, mid, due: ts + q.horizonMs, value });
  if (q.items.length - q.head > q.maxPending) {
    q.head++;
    q.dropped++;
  }
}

/**
 * Feed the book at `ts` with mid `mid` (every book change, before pushing that book's own items). Every item whose
 * horizon ended strictly before `ts` is realised by the previous book's mid: `onRealised(item, mid, midTs)` is called
 * oldest first. Returns how many items were realised.
 */
export function asOfObserve<T>(
  q: AsOfQueue<T>,
  ts: number,
  mid: number,
  onRealised: (item: AsOfItem<T>, realisedMid: number, realisedTs: number) => void,
): number {
  let n = 0;
  while (q.head < q.items.length && q.items[q.head]!.due < ts) {
    const it = q.items[q.head++]!;
    // The item's own book must have been observed (else the as-of book is unknown).
    if (Number.isFinite(q.lastMid) && q.lastTs >= it.ts) {
      onRealised(it, q.lastMid, q.lastTs);
      n++;
    } else {
      q.dropped++;
    }
  }
  if (q.head > 1024 && q.head * 2 > q.items.length) {
    q.items = q.items.slice(q.head);
    q.head = 0;
  }
  if (ts >= q.lastTs) {
    q.lastTs = ts;
    q.lastMid = mid;
  }
  return n;
}

/** Forget every unresolved item and the last book (the book was dropped: the mid inside the gap is unknown). */
export function asOfReset<T>(q: AsOfQueue<T>): number {
  const n = q.items.length - q.head;
  q.dropped += n;
  q.items = [];
  q.head = 0;
  q.lastTs = -Infinity;
  q.lastMid = NaN;
  return n;
}

/** Number of items waiting for their horizon. */
export function asOfPending<T>(q: AsOfQueue<T>): number {
  return q.items.length - q.head;
}
