/**
 * Book messages serialized once per (book change, depth): every client at the same depth gets the same string.
 * A new book change (a new relay `seq`) invalidates the cache.
 */
import { mid, spread, topLevels, type Book } from "../okx/book.js";
import type { BookMessage } from "../protocol.js";

/** Serialized book messages for the current `seq`, by depth. */
export class BookCache {
  private seq = -1;
  private readonly byDepth = new Map<number, string>();

  /** The `book` message for `depth` at relay `seq` with the book's top-25 `checksum`. */
  get(book: Book, seq: number, depth: number, checksum: number): string {
    if (seq !== this.seq) {
      this.seq = seq;
      this.byDepth.clear();
    }
    let s = this.byDepth.get(depth);
    if (s === undefined) {
      s = JSON.stringify({
        type: "book",
        instId: book.instId,
        seq,
        ts: book.ts,
        seqId: book.seqId,
        bids: topLevels(book.bids, depth),
        asks: topLevels(book.asks, depth),
        depth,
        mid: mid(book),
        spread: spread(book),
        checksum,
      } satisfies BookMessage);
      this.byDepth.set(depth, s);
    }
    return s;
  }
}
