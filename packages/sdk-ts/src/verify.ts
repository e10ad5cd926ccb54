/**
 * Checksum of a book message as the relay computed it: OKX's CRC32 (signed int32) over the top 25 levels per side,
 * with the very module the relay uses (src/okx/checksum.ts), so a mismatch means the bytes we hold differ from the
 * book the relay verified (a transport, proxy or serialization fault), never a different formula.
 */
import { CHECKSUM_DEPTH, okxChecksum, type PxSz } from "../../../src/okx/checksum.js";
import type { BookMessage, WireLevel } from "../../../src/protocol.js";

function top(levels: readonly WireLevel[]): PxSz[] {
  const n = Math.min(levels.length, CHECKSUM_DEPTH);
  const out: PxSz[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const l = levels[i]!;
    out[i] = { px: l[0], sz: l[1] };
  }
  return out;
}

/** OKX checksum of a book message's own levels (compare with its `checksum`). */
export function bookChecksum(m: Pick<BookMessage, "bids" | "asks">): number {
  return okxChecksum(top(m.bids), top(m.asks));
}
