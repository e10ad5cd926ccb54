/**
 * Per-client flow control as pure decisions over plain data. workerd exposes no `bufferedAmount` and `send`
 * never blocks: a socket whose peer stops reading makes the runtime queue every frame outside the JS heap. The
 * only honest signal of reading is the client echoing what it processed (`{"op":"ack","seq":N}`), so:
 * - a client that acks gets at most MAX_IN_FLIGHT unacknowledged books; beyond that it is conflated (skips books
 *   and gets the latest one on its next ack);
 * - every client may be sent at most `budgetBytes` beyond its last ack; past that it is paused (told once with
 *   `ack_required`, gets the latest data on its next ack) and closed (4008) if it stays paused for `stallMs`;
 * - bounded staleness: for a client that acks, the relay knows when the oldest book it has not confirmed was sent.
 *   Once that is older than `maxStalenessMs` the client is skipped to the latest book on its next ack (never fed
 *   a growing backlog), told once that it lags, and closed (4009) if it stays beyond the bound for `lagCloseMs`.
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
  /** Relay seq of the last book sent to this client; null before the first. */
  lastSentSeq: number | null;
  /**
   * The books sent and not yet acknowledged, oldest first, as flat `[seq, currentAt, seq, currentAt, ...]` pairs: the
   * in-flight window counts BOOKS, not seq distance (a shard that coalesced forwards the relay's seqs with gaps), and
   * an ack finds the send time of the oldest book it leaves unconfirmed here. At most MAX_IN_FLIGHT + 1 pairs are
   * kept (a client that does not ack yet gets more; the window only needs to know it is full).
   */
  inFlight: number[];
  /** Highest seq dropped from `inFlight` to keep it bounded (-1: none): acks below it leave older books unconfirmed. */
  droppedSeq: number;
  /**
   * When the oldest book this client has not acknowledged was current (Unix ms, our clock): its send time minus the
   * sender's lag behind the exchange then, so the staleness bound applies to the book's age, not just its time in
   * flight; null when the client has confirmed all.
   */
  oldestUnackedAt: number | null;
  /** Since when the client has been beyond the staleness bound; null while within it. */
  lagSince: number | null;
}

/** Staleness settings. */
export interface StalenessBound {
  /** A client whose oldest unacknowledged book is older than this is skipped to the latest on its next ack. */
  readonly maxStalenessMs: number;
  /** A client beyond the bound this long is closed (4009). */
  readonly lagCloseMs: number;
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
  | "pause"
  /** the client's oldest unacknowledged book is older than the bound: drop it, mark pending; first time: tell it */
  | "stale";

/** Fresh flow state for a new (or rehydrated) client. */
export function freshFlow(): FlowState {
  return {
    acked: null,
    pending: false,
    unackedBytes: 0,
    pausedAt: null,
    lastSentSeq: null,
    inFlight: [],
    droppedSeq: -1,
    oldestUnackedAt: null,
    lagSince: null,
  };
}

/**
 * Decide and record the outcome for a data message of `bytes` bytes. `seq` is the book's relay seq (window and
 * staleness checks), null for messages outside the window (predictions, scores). `catchUp`: the latest book sent
 * to a pending client on its ack (no window or staleness check: it is the fresh book the client is owed).
 * `currentAt`: when the book was current (`now` minus the sender's lag behind the exchange; default `now`).
 */
export function admit(
  f: FlowState,
  bytes: number,
  seq: number | null,
  now: number,
  budgetBytes: number,
  bound: StalenessBound | null = null,
  catchUp = false,
  currentAt = now,
): FlowDecision {
  if (f.pausedAt !== null) return "skip";
  // Staleness before the window: a client that is both behind the window and beyond the bound must be told it lags
  // (else a conflated client would never hear it). Only a client that acks has a measurable lag; one that never acks
  // is bounded by its budget alone.
  if (
    !catchUp &&
    seq !== null &&
    bound &&
    f.acked !== null &&
    f.oldestUnackedAt !== null &&
    now - f.oldestUnackedAt > bound.maxStalenessMs
  ) {
    f.pending = true;
    if (f.lagSince !== null) return "skip";
    f.lagSince = now;
    return "stale";
  }
  // The window counts the books in flight, not the seq distance: seqs jump on a shard that coalesced (it forwards
  // the relay's seqs), and a seq-distance window would conflate a client after two or three books there — or, once
  // it acked everything, make it wait forever for a book it has nothing left to ack.
  if (!catchUp && seq !== null && f.acked !== null && f.inFlight.length >= 2 * MAX_IN_FLIGHT) {
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
  if (seq !== null) {
    f.lastSentSeq = seq;
    f.oldestUnackedAt ??= currentAt;
    // The books skipped before a catch-up were never sent, so they are not in flight: the window restarts from this
    // one and a client that acks every k-th book (k <= the window) gets a full window again.
    f.inFlight.push(seq, currentAt);
    if (f.inFlight.length > 2 * (MAX_IN_FLIGHT + 1)) {
      // Per send of a client that does not ack yet: two shifts, no array allocated (splice would return one).
      f.droppedSeq = f.inFlight.shift()!;
      f.inFlight.shift();
    }
  }
  return "send";
}

/**
 * Record an ack of `seq` (clamped to the latest seq sent). Returns true when the client was pending and must now
 * get the latest data. Everything sent before the ack was read; what was sent after it is at most the window, so
 * the budget restarts from zero (an approximation that errs by at most MAX_IN_FLIGHT messages). The oldest book
 * still unconfirmed is the first one in flight after `seq`.
 */
export function acknowledge(f: FlowState, seq: number, latestSeq: number): boolean {
  // Never backwards: a late ack of an older book changes nothing.
  f.acked = Math.max(f.acked ?? -1, Math.min(seq, latestSeq));
  f.unackedBytes = 0;
  f.pausedAt = null;
  let done = 0;
  while (done < f.inFlight.length && f.inFlight[done]! <= f.acked) done += 2;
  if (done > 0) f.inFlight.splice(0, done);
  if (f.lastSentSeq === null || f.acked >= f.lastSentSeq) {
    f.oldestUnackedAt = null;
  } else if (f.oldestUnackedAt !== null && f.acked >= f.droppedSeq && f.inFlight.length > 0) {
    // (Below droppedSeq, books older than those kept are still unconfirmed: the older time stands.)
    f.oldestUnackedAt = Math.max(f.oldestUnackedAt, f.inFlight[1]!);
  }
  const wasPending = f.pending;
  f.pending = false;
  return wasPending;
}

/** How long the client's oldest unacknowledged book has waited (ms); 0 when it confirmed everything. */
export function clientLag(f: FlowState, now: number): number {
  return f.oldestUnackedAt === null ? 0 : now - f.oldestUnackedAt;
}

/** Clear the lag mark once the client is back within the bound (after an ack brought it the latest book). */
export function settleLag(f: FlowState, now: number, bound: StalenessBound): void {
  if (f.lagSince !== null && clientLag(f, now) <= bound.maxStalenessMs) f.lagSince = null;
}

/** True when the client has been beyond the staleness bound for `lagCloseMs` or more: close it (4009). */
export function isLagClosed(f: FlowState, now: number, bound: StalenessBound): boolean {
  return f.lagSince !== null && now - f.lagSince >= bound.lagCloseMs;
}

/** True when the client has stayed paused by its budget for `stallMs` or more: close it (4008). */
export function isStalled(f: FlowState, now: number, stallMs: number): boolean {
  return f.pausedAt !== null && now - f.pausedAt >= stallMs;
}
