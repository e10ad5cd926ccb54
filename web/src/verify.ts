/**
 * Verifies every book message against its `checksum`: OKX's CRC32 over the top 25 levels per side, computed by
 * the relay. The UI recomputes it with the very module the relay uses (src/okx/checksum.ts), so a mismatch means
 * the bytes we hold differ from the book the relay verified (a transport or serialization bug), never a
 * different formula.
 */
import { CHECKSUM_DEPTH, okxChecksum, type PxSz } from "../../src/okx/checksum.js";
import type { BookMessage, WireLevel } from "../../src/protocol.js";

export interface Mismatch {
  readonly seq: number;
  readonly expected: number;
  readonly computed: number;
  readonly at: number;
}

function top(levels: readonly WireLevel[]): PxSz[] {
  const n = Math.min(levels.length, CHECKSUM_DEPTH);
  const out: PxSz[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const l = levels[i]!;
    out[i] = { px: l[0], sz: l[1] };
  }
  return out;
}

export class ChecksumVerifier {
  verified = 0;
  mismatches = 0;
  last: Mismatch | null = null;

  /** True when the message's checksum matches its levels. */
  check(m: BookMessage): boolean {
    const computed = okxChecksum(top(m.bids), top(m.asks));
    if (computed === m.checksum) {
      this.verified++;
      return true;
    }
    this.mismatches++;
    this.last = { seq: m.seq, expected: m.checksum, computed, at: Date.now() };
    console.warn(`[tradesim] checksum mismatch on ${m.instId} seq ${m.seq}: relay ${m.checksum}, computed ${computed}`);
    return false;
  }

  reset(): void {
    this.verified = 0;
    this.mismatches = 0;
    this.last = null;
  }
}
