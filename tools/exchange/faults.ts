/**
 * Fault injection for the local exchange. A fault is armed on connections (all current ones, the next one, or
 * every connection for CLI flags) and fires after that connection has been sent `after` book/trade pushes.
 */

export type FaultType =
  /** Terminate the TCP connection without a close frame (network drop). */
  | "drop"
  /** Do not send one update: the next update's prevSeqId no longer matches (sequence gap). */
  | "gap"
  /** Send one update with a wrong (non-zero) checksum. */
  | "checksum"
  /** Send a malformed (truncated JSON) frame instead of one push. */
  | "malformed"
  /** Send OKX notice 64008 (service upgrade), then close the connection after `closeAfterMs`. */
  | "notice"
  /** Stop sending anything, including pongs, while keeping the socket open. */
  | "stall"
  /** Answer the next subscribe with an error event instead of data. */
  | "subscribe-error"
  /** Jump this connection's seqId chain backwards (OKX maintenance reset: seqId < prevSeqId). */
  | "seq-reset";

export const FAULT_TYPES: readonly FaultType[] = ["drop", "gap", "checksum", "malformed", "notice", "stall", "subscribe-error", "seq-reset"];

export interface FaultSpec {
  readonly type: FaultType;
  /** Pushes sent to the connection before the fault fires (default 0 = at the next push). */
  readonly after?: number;
  /** For `notice`: delay before the close (default 1000 ms, OKX gives clients time to reconnect). */
  readonly closeAfterMs?: number;
}

/** Parse a CLI/HTTP fault spec like "drop:500" or {type:"gap", after: 20}. */
export function parseFault(v: unknown): FaultSpec {
  if (typeof v === "string") {
    const [type, after] = v.split(":");
    return parseFault({ type, after: after === undefined ? undefined : Number(after) });
  }
  if (typeof v !== "object" || v === null) throw new Error("fault must be an object or TYPE[:AFTER]");
  const o = v as Record<string, unknown>;
  if (!FAULT_TYPES.includes(o.type as FaultType)) throw new Error(`unknown fault type ${String(o.type)}; one of ${FAULT_TYPES.join(", ")}`);
  const after = o.after === undefined ? 0 : Number(o.after);
  if (!Number.isInteger(after) || after < 0) throw new Error("fault.after must be a non-negative integer");
  const closeAfterMs = o.closeAfterMs === undefined ? undefined : Number(o.closeAfterMs);
  if (closeAfterMs !== undefined && !(closeAfterMs >= 0)) throw new Error("fault.closeAfterMs must be >= 0");
  return { type: o.type as FaultType, after, ...(closeAfterMs !== undefined && { closeAfterMs }) };
}
