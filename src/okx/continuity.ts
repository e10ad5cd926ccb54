/**
 * OKX `books` sequence continuity (seqId / prevSeqId), as documented for the v5 public channel:
 * - a snapshot carries prevSeqId = -1 and starts a new chain;
 * - an update must carry prevSeqId == the seqId of the previous message, otherwise messages were lost (gap);
 * - seqId == prevSeqId with no levels is a heartbeat (no change; OKX sends it when the book is idle);
 * - seqId < prevSeqId happens when OKX resets sequences during maintenance: accepted, the chain continues from
 *   the new seqId (its prevSeqId must still match the previous seqId);
 * - captures recorded before 2023 carry no seqId at all: continuity cannot be checked, only the checksum.
 */

export type SeqVerdict =
  | { readonly kind: "ok" }
  | { readonly kind: "heartbeat" }
  | { readonly kind: "reset" }
  | { readonly kind: "unsequenced" }
  | { readonly kind: "gap"; readonly expectedPrevSeqId: number; readonly prevSeqId: number };

const OK: SeqVerdict = { kind: "ok" };
const HEARTBEAT: SeqVerdict = { kind: "heartbeat" };
const RESET: SeqVerdict = { kind: "reset" };
const UNSEQUENCED: SeqVerdict = { kind: "unsequenced" };

/**
 * Classify an update against the last accepted seqId.
 * @param lastSeqId seqId of the last accepted message, or null if the chain carries no sequence numbers
 * @param seqId the update's seqId (undefined when absent)
 * @param prevSeqId the update's prevSeqId (undefined when absent)
 * @param empty true when the update has no bid and no ask levels
 */
export function checkUpdateSequence(
  lastSeqId: number | null,
  seqId: number | undefined,
  prevSeqId: number | undefined,
  empty: boolean,
): SeqVerdict {
  if (seqId === undefined || prevSeqId === undefined) {
    // A chain that had sequence numbers must keep them; a missing pair in the middle of one is a protocol fault.
    return lastSeqId === null ? UNSEQUENCED : { kind: "gap", expectedPrevSeqId: lastSeqId, prevSeqId: -1 };
  }
  if (lastSeqId === null) return OK; // first sequenced update after an unsequenced snapshot: start the chain
  if (prevSeqId !== lastSeqId) return { kind: "gap", expectedPrevSeqId: lastSeqId, prevSeqId };
  if (seqId === prevSeqId) return empty ? HEARTBEAT : OK;
  return seqId < prevSeqId ? RESET : OK;
}
