/**
 * Fault injection for the local exchange. A fault is armed on connections (all current ones, the next one, or
 * every connection for CLI flags) and fires after that connection has been sent `after` pushes. Faults marked
 * "update" wait for the next `books` update push on that connection.
 */

export type FaultType =
  /** Terminate the TCP connection without a close frame (network drop). */
  | "drop"
  /** (update) Do not send one update: the next update's prevSeqId no longer matches (sequence gap). */
  | "gap"
  /** (update) Send one update with a wrong (non-zero) checksum. */
  | "checksum"
  /** Send a malformed (truncated JSON) frame instead of one push. */
  | "malformed"
  /** Send OKX notice 64008 (service upgrade), then close the connection after `closeAfterMs`. */
  | "notice"
  /** Stop sending anything, including pongs, while keeping the socket open. */
  | "stall"
  /** Answer the next subscribe with an error event instead of data. */
  | "subscribe-error"
  /** Jump the instrument's seqId chain backwards (OKX maintenance reset: seqId < prevSeqId), for every subscriber. */
  | "seq-reset"
  /** (update) Send one update twice: the same seqId/prevSeqId arrives a second time. */
  | "duplicate"
  /** (update) After one update, send a fresh `snapshot` of the current book mid-stream, without a resubscribe. */
  | "snapshot"
  /** (update) Hold one update back and send it after the next one (updates out of order). */
  | "reorder"
  /** (update) Add a delete (size "0") of a price level that is not in the book to one update. */
  | "delete-missing"
  /** (update) Pad one update to `bytes` (default 4 MiB) with deletes of absent levels: a valid frame of several MiB. */
  | "huge"
  /** Send one push as a binary frame, deflate-compressed (as OKX's v3 API did), instead of text. */
  | "binary"
  /** Close the connection (4004) once the client has sent nothing for `idleMs` (default 30 s), pushes or not. */
  | "client-idle"
  /** Send an `event:"error"` frame (`code`, default 60018) on an already subscribed connection, then the push. */
  | "error-event"
  /** From this push on, every `ts` sent to the connection is shifted by `jumpMs` (default +1 h; may be negative). */
  | "clock-jump";

export const FAULT_TYPES: readonly FaultType[] = [
  "drop",
  "gap",
  "checksum",
  "malformed",
  "notice",
  "stall",
  "subscribe-error",
  "seq-reset",
  "duplicate",
  "snapshot",
  "reorder",
  "delete-missing",
  "huge",
  "binary",
  "client-idle",
  "error-event",
  "clock-jump",
];

/** Faults that act on a `books` update and wait for one. */
export const UPDATE_FAULTS: ReadonlySet<FaultType> = new Set([
  "gap",
  "checksum",
  "duplicate",
  "snapshot",
  "reorder",
  "delete-missing",
  "huge",
]);

export interface FaultSpec {
  readonly type: FaultType;
  /** Pushes sent to the connection before the fault fires (default 0 = at the next push). */
  readonly after?: number;
  /** For `notice`: delay before the close (default 1000 ms, OKX gives clients time to reconnect). */
  readonly closeAfterMs?: number;
  /** For `huge`: frame size in bytes (default 4 MiB). */
  readonly bytes?: number;
  /** For `client-idle`: client silence before the close (default 30000 ms). */
  readonly idleMs?: number;
  /** For `error-event`: the OKX error code (default 60018). */
  readonly code?: string;
  /** For `clock-jump`: shift of every later `ts` in ms (default 3600000). */
  readonly jumpMs?: number;
}

function optNumber(
  o: Record<string, unknown>,
  key: string,
  ok: (n: number) => boolean,
  what: string,
): number | undefined {
  if (o[key] === undefined) return undefined;
  const n = Number(o[key]);
  if (!ok(n)) throw new Error(`fault.${key} must be ${what}`);
  return n;
}

/** Parse a CLI/HTTP fault spec like "drop:500" or {type:"gap", after: 20}. */
export function parseFault(v: unknown): FaultSpec {
  if (typeof v === "string") {
    const [type, after] = v.split(":");
    return parseFault({ type, after: after === undefined ? undefined : Number(after) });
  }
  if (typeof v !== "object" || v === null) throw new Error("fault must be an object or TYPE[:AFTER]");
  const o = v as Record<string, unknown>;
  if (!FAULT_TYPES.includes(o.type as FaultType))
    throw new Error(`unknown fault type ${String(o.type)}; one of ${FAULT_TYPES.join(", ")}`);
  const after = o.after === undefined ? 0 : Number(o.after);
  if (!Number.isInteger(after) || after < 0) throw new Error("fault.after must be a non-negative integer");
  const closeAfterMs = optNumber(o, "closeAfterMs", (n) => n >= 0, ">= 0");
  const bytes = optNumber(
    o,
    "bytes",
    (n) => Number.isInteger(n) && n > 0 && n <= 64 * 1024 * 1024,
    "an integer in 1..64 MiB",
  );
  const idleMs = optNumber(o, "idleMs", (n) => n > 0, "> 0");
  const jumpMs = optNumber(o, "jumpMs", (n) => Number.isInteger(n), "an integer");
  if (o.code !== undefined && (typeof o.code !== "string" || !/^\d{5}$/.test(o.code)))
    throw new Error("fault.code must be a 5-digit string");
  return {
    type: o.type as FaultType,
    after,
    ...(closeAfterMs !== undefined && { closeAfterMs }),
    ...(bytes !== undefined && { bytes }),
    ...(idleMs !== undefined && { idleMs }),
    ...(typeof o.code === "string" && { code: o.code }),
    ...(jumpMs !== undefined && { jumpMs }),
  };
}
