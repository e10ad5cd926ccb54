/**
 * The OKX push shapes the local exchange sends, built from its replayed book. Shapes as in OKX's v5 docs
 * (WS / Order book channel): `books` / `books-l2-tbt` carry `action` snapshot|update, `checksum`, `seqId` and
 * `prevSeqId`; `books5` (5 levels) and `bbo-tbt` (1 level) carry no `action`: every push is a full snapshot of the
 * top of the book with its `seqId` (`books5` also repeats `instId` inside `data`). Levels are
 * `[px, sz, "0", orders]` strings.
 */
import { toOkxLevels, type Level } from "../../src/okx/book.js";
import type { OkxBookData, OkxLevel, OkxWireBooks } from "../../src/okx/protocol.js";

/** Full-depth channels (OKX: 400 levels a side in the snapshot, then tick-by-tick increments). */
const BOOK_CHANNELS = ["books", "books-l2-tbt"] as const;
export type BookChannel = (typeof BOOK_CHANNELS)[number];
/** Top-of-book channels: each push is the whole top `TOP_DEPTH[channel]` levels. */
export const TOP_CHANNELS = ["books5", "bbo-tbt"] as const;
export type TopChannel = (typeof TOP_CHANNELS)[number];
export const TOP_DEPTH: Record<TopChannel, number> = { books5: 5, "bbo-tbt": 1 };

/** OKX's `books` snapshot depth: 400 levels a side. */
export const BOOKS_DEPTH = 400;

/** One `books` push before serialization (faults re-serialize it with changes). */
export interface BookFrame {
  readonly channel: BookChannel;
  readonly instId: string;
  readonly action: "snapshot" | "update";
  readonly data: OkxBookData;
}

/** `books5` / `bbo-tbt` wire shape (OKX docs, push data examples). */
interface OkxWireTop {
  arg: { channel: TopChannel; instId: string };
  data: [{ asks: OkxLevel[]; bids: OkxLevel[]; instId?: string; ts: string; seqId: number }];
}

export function isBookChannel(channel: string): channel is BookChannel {
  return (BOOK_CHANNELS as readonly string[]).includes(channel);
}

export function isTopChannel(channel: string): channel is TopChannel {
  return (TOP_CHANNELS as readonly string[]).includes(channel);
}

/** Serialize a `books` push; field order as OKX sends it (asks, bids, ts, checksum, seqId, prevSeqId). */
export function serializeBooks(f: BookFrame): string {
  const d = f.data;
  const data: OkxBookData = {
    asks: d.asks,
    bids: d.bids,
    ts: d.ts,
    ...(d.checksum !== undefined && { checksum: d.checksum }),
    ...(d.seqId !== undefined && { seqId: d.seqId }),
    ...(d.prevSeqId !== undefined && { prevSeqId: d.prevSeqId }),
  };
  return JSON.stringify({
    arg: { channel: f.channel, instId: f.instId },
    action: f.action,
    data: [data],
  } satisfies OkxWireBooks);
}

/** A `books5` or `bbo-tbt` push of the book's current top levels. */
export function serializeTop(
  channel: TopChannel,
  instId: string,
  bids: readonly Level[],
  asks: readonly Level[],
  ts: number,
  seqId: number,
): string {
  const n = TOP_DEPTH[channel];
  const data = {
    asks: toOkxLevels(asks, n),
    bids: toOkxLevels(bids, n),
    ...(channel === "books5" && { instId }),
    ts: String(ts),
    seqId,
  };
  return JSON.stringify({ arg: { channel, instId }, data: [data] } satisfies OkxWireTop);
}

/** The price of the last level inside the `books` view (rank 400), or undefined when the whole side is in view. */
export function viewBoundary(side: readonly Level[]): number | undefined {
  return side.length > BOOKS_DEPTH ? side[BOOKS_DEPTH - 1]!.price : undefined;
}

/**
 * Levels that entered the 400-level view because levels above them went away, and that the update itself does not
 * carry. OKX's `books` channel sends such levels as inserts; a client that got a 400-level snapshot needs them,
 * or it would miss a deep level that climbs back to the top (the bundled BTC-USDT-SWAP stream has 1,600+ levels a
 * side, and a deep level does reach the top 25 within minutes). With them, every subscriber's top 400 equals the
 * exchange's.
 *
 * @param side the side after the update was applied (best first)
 * @param boundary `viewBoundary(side)` before the update
 * @param desc true for bids
 * @param updated the update's levels for this side
 */
export function reentries(
  side: readonly Level[],
  boundary: number | undefined,
  desc: boolean,
  updated: readonly OkxLevel[],
): OkxLevel[] {
  if (boundary === undefined) return [];
  const out: Level[] = [];
  let sent: Set<number> | undefined;
  for (let k = Math.min(BOOKS_DEPTH, side.length) - 1; k >= 0; k--) {
    const l = side[k]!;
    if (desc ? l.price >= boundary : l.price <= boundary) break;
    sent ??= new Set(updated.map((u) => +u[0]));
    if (!sent.has(l.price)) out.push(l);
  }
  return toOkxLevels(out.reverse());
}
