/**
 * L2 order book for one OKX instrument, maintained from `books` snapshot + update pushes.
 *
 * Plain data plus functions (no class): the relay Durable Object, the local exchange, the feature pipeline and the
 * benchmarks all drive the same code. Sides are arrays sorted best-first (bids descending, asks ascending); an
 * update is applied level by level with a binary search and an in-place splice, which for OKX's 400-level books
 * costs far less than the JSON parse of the message that carried it.
 *
 * Each level keeps the ORIGINAL price and size strings (the checksum is defined over them and clients receive
 * them verbatim) next to their numeric values (for sorting and for the market math).
 */
import { CHECKSUM_DEPTH, checksumFinal, checksumStep, type PxSz } from "./checksum.js";
import { checkUpdateSequence } from "./continuity.js";
import type { OkxBookData, OkxLevel } from "./protocol.js";

export interface Level extends PxSz {
  readonly px: string;
  readonly sz: string;
  readonly price: number;
  readonly size: number;
  /** Number of orders at the level, as sent ("" when the push omitted it). */
  readonly orders: string;
  /** Checksum cache of this level's ":px:sz" text (src/okx/checksum.ts), filled on first use. */
  crcRaw: number | undefined;
  crcLen: number | undefined;
}

export interface Book {
  readonly instId: string;
  /** Best (highest) first. */
  bids: Level[];
  /** Best (lowest) first. */
  asks: Level[];
  /** Exchange timestamp (Unix ms) of the last applied message; 0 before the first snapshot. */
  ts: number;
  /** seqId of the last applied message; null when the stream carries no sequence numbers. */
  seqId: number | null;
  /** True once a snapshot has been applied (and no fault has invalidated it since). */
  synced: boolean;
  /**
   * Checksum cache: CRC state after each interleaved level step (bid i, ask i) of the top 25, valid for the first
   * `csValid` steps. Updates that only touch levels below the top 25 (most tick-by-tick updates) leave it intact,
   * so verifying OKX's checksum usually costs a few steps instead of 50 levels.
   */
  csPrefix: Int32Array;
  csValid: number;
}

/** Why a message could not be applied; every one of these means: drop the book and resubscribe. */
export type BookFault = "no-snapshot" | "gap" | "checksum" | "crossed" | "malformed";

export type ApplyResult =
  | { readonly ok: true; readonly changed: boolean; readonly reset?: boolean }
  | { readonly ok: false; readonly fault: BookFault; readonly detail: string };

/** Options for `applyBook`. */
export interface ApplyOptions {
  /** Verify OKX's checksum when the push carries a non-zero one (default true). */
  readonly verifyChecksum?: boolean;
  /**
   * Keep at most this many levels per side (>= 25), dropping the worst: bounds memory, as updates keep adding
   * levels beyond the 400 of the snapshot. Too tight a cap loses deep levels that later come back to the top
   * (then the checksum fails): keep it well above the depth actually used.
   */
  readonly maxLevels?: number;
}

/** A new, empty (unsynced) book. */
export function createBook(instId: string): Book {
  return {
    instId,
    bids: [],
    asks: [],
    ts: 0,
    seqId: null,
    synced: false,
    csPrefix: new Int32Array(CHECKSUM_DEPTH),
    csValid: 0,
  };
}

class MalformedLevel extends Error {}

function toLevel(l: OkxLevel): Level {
  const px = l[0];
  const sz = l[1];
  if (typeof px !== "string" || typeof sz !== "string") throw new MalformedLevel("level is not [px, sz] strings");
  const price = +px;
  const size = +sz;
  // `+""` is 0 and `+" 1"` is 1: require a plain decimal so the checksum strings stay meaningful.
  if (
    !(price > 0) ||
    !Number.isFinite(price) ||
    !(size >= 0) ||
    !Number.isFinite(size) ||
    px.length === 0 ||
    sz.length === 0
  ) {
    throw new MalformedLevel(`bad level [${String(px)}, ${String(sz)}]`);
  }
  // All fields present from the start: one hidden class for every level.
  return { px, sz, price, size, orders: l[3] ?? "", crcRaw: undefined, crcLen: undefined };
}

/** Index of `price` in a side sorted best-first, or -(insertion point) - 1 when absent. */
function search(side: readonly Level[], price: number, desc: boolean): number {
  let lo = 0;
  let hi = side.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const p = side[mid]!.price;
    if (p === price) return mid;
    if (desc ? p > price : p < price) lo = mid + 1;
    else hi = mid - 1;
  }
  return -lo - 1;
}

/** Apply level updates to one side; returns the smallest index that changed (Infinity if none). */
function applySide(side: Level[], levels: readonly OkxLevel[], desc: boolean): number {
  let minIdx = Infinity;
  for (let i = 0; i < levels.length; i++) {
    const l = levels[i];
    if (!Array.isArray(l)) throw new MalformedLevel("level is not an array");
    const lvl = toLevel(l);
    const idx = search(side, lvl.price, desc);
    if (lvl.size === 0) {
      if (idx >= 0) {
        side.splice(idx, 1);
        if (idx < minIdx) minIdx = idx;
      }
      // Deleting an absent level is not an error: OKX may delete a level outside the client's depth.
    } else if (idx >= 0) {
      side[idx] = lvl;
      if (idx < minIdx) minIdx = idx;
    } else {
      const at = -idx - 1;
      side.splice(at, 0, lvl);
      if (at < minIdx) minIdx = at;
    }
  }
  return minIdx;
}

/** OKX checksum of the book's top 25 levels, resuming from the cached CRC state where levels did not change. */
export function bookChecksum(book: Book): number {
  const n = Math.max(Math.min(book.bids.length, CHECKSUM_DEPTH), Math.min(book.asks.length, CHECKSUM_DEPTH));
  let k = Math.min(book.csValid, n);
  let crc = k === 0 ? -1 : book.csPrefix[k - 1]!;
  for (; k < n; k++) {
    crc = checksumStep(crc, k === 0, book.bids[k], book.asks[k]);
    book.csPrefix[k] = crc;
  }
  book.csValid = n;
  return checksumFinal(crc);
}

function buildSide(levels: readonly OkxLevel[], desc: boolean): Level[] {
  const side: Level[] = [];
  for (let i = 0; i < levels.length; i++) {
    const l = levels[i];
    if (!Array.isArray(l)) throw new MalformedLevel("level is not an array");
    const lvl = toLevel(l);
    if (lvl.size === 0) continue;
    side.push(lvl);
  }
  // Snapshots arrive sorted; verify cheaply and sort only when they are not (duplicates are a malformed frame).
  for (let i = 1; i < side.length; i++) {
    const a = side[i - 1]!.price;
    const b = side[i]!.price;
    if (a === b) throw new MalformedLevel(`duplicate price ${side[i]!.px}`);
    if (desc ? a < b : a > b) {
      side.sort(desc ? (x, y) => y.price - x.price : (x, y) => x.price - y.price);
      for (let j = 1; j < side.length; j++) {
        if (side[j - 1]!.price === side[j]!.price) throw new MalformedLevel(`duplicate price ${side[j]!.px}`);
      }
      break;
    }
  }
  return side;
}

function invalidate(book: Book): void {
  book.synced = false;
  book.csValid = 0;
  book.bids = [];
  book.asks = [];
  book.seqId = null;
}

function fail(book: Book, fault: BookFault, detail: string): ApplyResult {
  invalidate(book);
  return { ok: false, fault, detail };
}

/**
 * Apply one `books` push (snapshot or update) to `book`, in place.
 * On any fault the book is cleared and marked unsynced, and the fault is returned: the caller must resubscribe
 * to get a fresh snapshot. Checks, in order: snapshot present, seqId continuity, level validity, crossed book,
 * and OKX's checksum when the push carries a non-zero one.
 */
export function applyBook(
  book: Book,
  action: "snapshot" | "update",
  data: OkxBookData,
  opts?: ApplyOptions,
): ApplyResult {
  let reset = false;
  try {
    if (action === "snapshot") {
      book.bids = buildSide(data.bids, true);
      book.asks = buildSide(data.asks, false);
      book.csValid = 0;
      book.seqId = data.seqId ?? null;
      book.synced = true;
    } else {
      if (!book.synced) return fail(book, "no-snapshot", "update before snapshot");
      const empty = data.bids.length === 0 && data.asks.length === 0;
      const verdict = checkUpdateSequence(book.seqId, data.seqId, data.prevSeqId, empty);
      switch (verdict.kind) {
        case "gap":
          return fail(book, "gap", `prevSeqId ${verdict.prevSeqId} != last seqId ${verdict.expectedPrevSeqId}`);
        case "heartbeat":
          book.ts = +data.ts;
          return { ok: true, changed: false };
        case "reset":
          reset = true;
          break;
        default:
          break;
      }
      const changed = Math.min(applySide(book.bids, data.bids, true), applySide(book.asks, data.asks, false));
      if (changed < book.csValid) book.csValid = changed;
      if (data.seqId !== undefined) book.seqId = data.seqId;
    }
  } catch (e) {
    if (e instanceof MalformedLevel) return fail(book, "malformed", e.message);
    throw e;
  }
  const bb = book.bids[0];
  const ba = book.asks[0];
  if (bb !== undefined && ba !== undefined && bb.price >= ba.price) {
    return fail(book, "crossed", `best bid ${bb.px} >= best ask ${ba.px}`);
  }
  if ((opts?.verifyChecksum ?? true) && data.checksum !== undefined && data.checksum !== 0) {
    const mine = bookChecksum(book);
    if (mine !== data.checksum) return fail(book, "checksum", `computed ${mine}, OKX sent ${data.checksum}`);
  }
  const max = opts?.maxLevels;
  if (max !== undefined && max >= CHECKSUM_DEPTH) {
    // Only the tail goes: the top-25 checksum cache (csPrefix) stays valid.
    if (book.bids.length > max) book.bids.length = max;
    if (book.asks.length > max) book.asks.length = max;
  }
  book.ts = +data.ts;
  return reset ? { ok: true, changed: true, reset } : { ok: true, changed: true };
}

/** Mid price ((best bid + best ask) / 2), or null when a side is empty. */
export function mid(book: Pick<Book, "bids" | "asks">): number | null {
  const b = book.bids[0];
  const a = book.asks[0];
  return b !== undefined && a !== undefined ? (b.price + a.price) / 2 : null;
}

/** Best ask minus best bid, or null when a side is empty. */
export function spread(book: Pick<Book, "bids" | "asks">): number | null {
  const b = book.bids[0];
  const a = book.asks[0];
  return b !== undefined && a !== undefined ? a.price - b.price : null;
}

/** Top `n` levels of a side as `[px, sz]` original strings (what clients receive). */
export function topLevels(side: readonly Level[], n: number): [string, string][] {
  const k = Math.min(n, side.length);
  const out = new Array<[string, string]>(k);
  for (let i = 0; i < k; i++) {
    const l = side[i]!;
    out[i] = [l.px, l.sz];
  }
  return out;
}

/** The book rendered as OKX levels (`[px, sz, "0", orders]`), e.g. for the local exchange's snapshot to a new subscriber. */
export function toOkxLevels(side: readonly Level[], n = side.length): OkxLevel[] {
  const k = Math.min(n, side.length);
  const out = new Array<OkxLevel>(k);
  for (let i = 0; i < k; i++) out[i] = [side[i]!.px, side[i]!.sz, "0", side[i]!.orders || "1"];
  return out;
}
