/**
 * Per-client flow control as pure decisions over plain data. workerd exposes no `bufferedAmount` and `send`
 * never blocks: a socket whose peer stops reading makes the runtime queue every frame outside the JS heap. The
 * only honest signal of reading is the client echoing what it processed (`{"op":"ack","seq":N}`), so:
 * - a client that acks gets at most MAX_IN_FLIGHT unacknowledged books; beyond that it is conflated (skips books
 *   and gets the latest one on its next ack);
 * - every client may be sent at most `budgetBytes` beyond its last ack; past that it is paused (told once with
 *   `ack_required`, gets the latest data on its next ack) and closed (4008) if it stays paused for `stallMs`.
 */
import { MAX_IN_FLIGHT } from "../protocol.js";

/** Volatile flow state of one client (rebuilt fresh after hibernation: the runtime keeps no counters for us). */
export interface FlowState {
  /** Last `seq` the client acknowledged; null until its first ack (then the window applies). */
  acked: number | null;
  /** Behind the window, or paused by the budget: gets the latest data on its next ack. */
  pending: boolean;
  /** Bytes sent since the last ack (or since connecting). */
  unackedBytes: number;
  /** When the send budget ran out (Unix ms); null while within it. */
  pausedAt: number | null;
}

/** What to do with one data message for one client. */
export type FlowDecision =
  /** send it (and count its bytes) */
  | "send"
  /** already paused: drop it, the client gets the latest on its next ack */
  | "skip"
  /** behind the in-flight window: drop it, mark pending (first time: count a conflation) */
  | "conflate"
  /** the budget runs out with this message: send `ack_required` instead, mark paused (count it) */
  | "pause";

/** Fresh flow state for a new (or rehydrated) client. */
export function freshFlow(): FlowState {
  return { acked: null, pending: false, unackedBytes: 0, pausedAt: null };
}

/**
 * Decide and record the outcome for a data message of `bytes` bytes. `seq` is the book's relay seq (window check);
 * pass null for messages outside the window (predictions, scores, the catch-up book after an ack).
 */
export function admit(f: FlowState, bytes: number, seq: number | null, now: number, budgetBytes: number): FlowDecision {
  if (f.pausedAt !== null) return "skip";
  if (seq !== null && f.acked !== null && seq - f.acked > MAX_IN_FLIGHT) {
    const first = !f.pending;
    f.pending = true;
    return first ? "conflate" : "skip";
  }
  if (f.unackedBytes + bytes > budgetBytes) {
    f.pausedAt = now;
    f.pending = true;
    return "pause";
  }
  f.unackedBytes += bytes;
  return "send";
}

/**
 * Record an ack of `seq` (clamped to the latest seq sent). Returns true when the client was pending and must now
 * get the latest data. Everything sent before the ack was read; what was sent after it is at most the window, so
 * the budget restarts from zero (an approximation that errs by at most MAX_IN_FLIGHT messages).
 */
export function acknowledge(f: FlowState, seq: number, latestSeq: number): boolean {
  f.acked = Math.min(seq, latestSeq);
  f.unackedBytes = 0;
  f.pausedAt = null;
  const wasPending = f.pending;
  f.pending = false;
  return wasPending;
}

/** True when the client has stayed paused by its budget for `stallMs` or more: close it (4008). */
export function isStalled(f: FlowState, now: number, stallMs: number): boolean {
  return f.pausedAt !== null && now - f.pausedAt >= stallMs;
}
