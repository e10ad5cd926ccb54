/**
 * TradeSim's client wire protocol on `GET /ws/okx` and `GET /ws/prediction`: every message the relay sends is a
 * member of `ServerMessage`, discriminated by `type`; every message a client may send is a `ClientMessage`.
 * Outgoing objects are built with `satisfies` so the compiler checks them against these types, then serialized
 * ONCE per distinct payload and the same string is sent to every subscriber.
 */

/** State of the relay's single upstream OKX connection for an instrument. */
export type UpstreamState = "connecting" | "live" | "resyncing" | "down";

/** A price level as OKX sent it: [price, size] original strings (size in contracts for derivatives). */
export type WireLevel = [px: string, sz: string];

/** Top-N view of the book after an upstream change. */
export interface BookMessage {
  type: "book";
  instId: string;
  /** Relay message number for this instrument (monotonic while the relay lives); acknowledge it for flow control. */
  seq: number;
  /** Exchange timestamp of the last applied OKX message, Unix ms. */
  ts: number;
  /** OKX seqId of the last applied message; null for streams without sequence numbers. */
  seqId: number | null;
  /** Best first; at most `depth` levels. */
  bids: WireLevel[];
  asks: WireLevel[];
  /** Levels per side requested by this client (`?depth=`, default 25, max 400). */
  depth: number;
  /** (best bid + best ask) / 2, null if a side is empty. */
  mid: number | null;
  /** best ask - best bid (quote currency), null if a side is empty. */
  spread: number | null;
  /** OKX CRC32 (signed int32) of the top 25 levels per side, computed by the relay: verify your copy with it. */
  checksum: number;
}

/** Upstream state change; also sent on connect. */
export interface StatusMessage {
  type: "status";
  instId: string;
  state: UpstreamState;
  /** Why the state changed (e.g. `checksum`, `gap`, `notice 64008`, `closed 1006`). */
  reason?: string;
  /** Relay clock, Unix ms. */
  at: number;
}

/** A problem the client must know about; `fatal` errors are followed by a close. */
export interface ErrorMessage {
  type: "error";
  code: string;
  message: string;
  fatal: boolean;
}

/** One horizon of a forecast made on the book at `ts`. Returns are log returns of the mid, bps. */
export interface HorizonForecast {
  horizonSec: number;
  /** The served point forecast: the model's, or 0 (no-change) when the head ships as no-change or is gated. */
  predictedReturnBps: number;
  predictedMid: number;
  /** 10 % / 90 % band after online conformal calibration, bps and mid units. */
  lowBps: number;
  highBps: number;
  low: number;
  high: number;
  /**
   * True while the head's rolling live skill is below no-change (with hysteresis, after a minimum number of
   * independent windows): the point served is then no-change although the model has one.
   */
  gated: boolean;
  /** What produced the served point: the model head, or no-change (shipped as no-change, or gated). */
  point: "model" | "no-change";
}

/** Multi-horizon forecast (at most one per `minIntervalMs` of exchange time). */
export interface PredictionMessage {
  type: "prediction";
  instId: string;
  /** Exchange timestamp of the book the forecast was made on, Unix ms. */
  ts: number;
  mid: number;
  horizons: HorizonForecast[];
  model: { name: string; version: string };
}

/** Rolling live (prequential) score of one horizon: every forecast scored once its horizon has passed. */
export interface HorizonScore {
  horizonSec: number;
  /** Scored forecasts in the rolling window (they overlap: see `windows`). */
  count: number;
  /** Independent outcomes in the window: its span / horizon. */
  windows: number;
  /** Errors of the SERVED point forecast, bps. */
  maeBps: number;
  rmseBps: number;
  /** RMSE of no-change over the same forecasts. */
  baselineRmseBps: number;
  /** 1 - MSE(served) / MSE(no-change); null while nothing moved. 0 when no-change is served. */
  skill: number | null;
  /** Same for the model's own point forecast (scored even while gated, so the gate can reopen); null for a no-change head. */
  modelSkill: number | null;
  /** Share of served forecasts with the realised direction, over non-zero forecasts and outcomes; null when none. */
  hitRate: number | null;
  /** Share of realised returns inside the served band (nominal 0.8). */
  coverage: number | null;
  meanWidthBps: number | null;
  gated: boolean;
  /** Conformal scale factors currently applied to the lower / upper half of the band. */
  bandScale: { low: number; high: number };
  /** Online slope applied to the model's point (lambda), or null when the head has none. */
  pointScale: number | null;
}

export interface ScoreMessage {
  type: "score";
  instId: string;
  ts: number;
  horizons: HorizonScore[];
  model: { name: string; version: string };
}

/**
 * The staleness bound (RELAY_MAX_STALENESS_MS) is exceeded. `scope: "client"`: this connection's oldest
 * unacknowledged book is older than the bound; it gets no more books until it acks, then the latest one, and is
 * closed with 4009 if it stays beyond the bound for RELAY_LAG_CLOSE_MS. `scope: "relay"`: the relay or fan-out shard
 * serving this connection is itself behind the exchange by more than the bound, so every book it sends is at least
 * that old; books keep coming (coalesced) and no ack is asked for. Told once per episode; recovery is not announced
 * (the book's `ts` tells its age).
 */
export interface LaggingMessage {
  type: "lagging";
  instId: string;
  /** Who is behind: this connection (books withheld until it acks) or the object serving it (books keep coming). */
  scope: "client" | "relay";
  /** Age of the oldest book this client has not acknowledged, or the serving object's lag behind the exchange, ms. */
  lagMs: number;
  /** The bound, ms. */
  boundMs: number;
  /** Relay clock, Unix ms. */
  at: number;
}

export type ServerMessage =
  | LaggingMessage
  | BookMessage
  | StatusMessage
  | ErrorMessage
  | PredictionMessage
  | ScoreMessage;

/**
 * Client -> relay. Besides these JSON messages a client may send the text `ping` at any time and gets `pong`
 * (answered by the runtime without waking the Durable Object).
 * - `ack`: the client has processed every message up to `seq`. Clients that ack get flow control: at most
 *   `MAX_IN_FLIGHT` unacknowledged books are outstanding, and a client that falls behind is conflated to the
 *   latest book instead of queueing every update.
 * - Every client has a send budget (RELAY_CLIENT_BUDGET_BYTES, default 4 MiB) beyond its last ack. A client that
 *   never acks is paused when it runs out: it gets one `{"type":"error","code":"ack_required"}`, then nothing
 *   until it acks (then the latest book), and is closed with 4008 after RELAY_CLIENT_STALL_MS (default 120 s)
 *   paused. On `/ws/prediction` any ack (its `seq` is not checked) renews the budget.
 */
export type ClientMessage = { op: "ack"; seq: number };

/** Depth limits for `?depth=`. */
export const DEFAULT_DEPTH = 25;
export const MAX_DEPTH = 400;
/** Unacknowledged book messages allowed per acking client before it is conflated. */
export const MAX_IN_FLIGHT = 16;
/** Largest client frame the relay reads; anything bigger closes the socket with 1009. */
export const MAX_CLIENT_FRAME = 1024;

/** Close codes the relay sends (the UI and the SDKs read them from here). */
export const CLOSE = {
  /** Normal close (e.g. the relay shuts a client it no longer serves). */
  normal: 1000,
  /** Binary frame from a client: the protocol is text JSON. */
  binary: 1003,
  /** More than MAX_BAD_MESSAGES invalid client messages. */
  badClient: 1008,
  /** A client frame over MAX_CLIENT_FRAME bytes. */
  tooBig: 1009,
  /** The relay could not send to this socket. */
  sendFailed: 1011,
  /** OKX does not know the instrument (after an `unknown_instrument` error). */
  unknownInstrument: 4004,
  /** Paused by the send budget and still no ack after RELAY_CLIENT_STALL_MS. */
  notReading: 4008,
  /** Beyond the staleness bound (RELAY_MAX_STALENESS_MS) for RELAY_LAG_CLOSE_MS. */
  lagging: 4009,
} as const;

/** Invalid client messages tolerated (each answered `bad_message`); the next one closes with CLOSE.badClient. */
export const MAX_BAD_MESSAGES = 10;

/** Result of reading one client frame: a message, or why it is not one (and whether that closes the socket). */
export type ClientParse =
  | { readonly ok: true; readonly message: ClientMessage }
  | { readonly ok: false; readonly close: number; readonly reason: string }
  | { readonly ok: false; readonly close: null; readonly reason: string };

/** Parse a client frame: binary and oversized frames close the socket; anything but an ack is `bad_message`. */
export function parseClientMessage(frame: string | ArrayBuffer): ClientParse {
  if (typeof frame !== "string") return { ok: false, close: CLOSE.binary, reason: "binary frames are not supported" };
  if (frame.length > MAX_CLIENT_FRAME) {
    return { ok: false, close: CLOSE.tooBig, reason: `frames over ${MAX_CLIENT_FRAME} bytes are not accepted` };
  }
  let v: unknown;
  try {
    v = JSON.parse(frame);
  } catch {
    v = null;
  }
  const m = v as { op?: unknown; seq?: unknown } | null;
  if (m && m.op === "ack" && typeof m.seq === "number" && Number.isInteger(m.seq) && m.seq >= 0) {
    return { ok: true, message: { op: "ack", seq: m.seq } satisfies ClientMessage };
  }
  return { ok: false, close: null, reason: 'expected {"op":"ack","seq":N} or the text "ping"' };
}

/** `status` message (serialized). */
export function statusMessage(instId: string, state: UpstreamState, reason: string | null, at: number): string {
  return JSON.stringify({
    type: "status",
    instId,
    state,
    ...(reason !== null && { reason }),
    at,
  } satisfies StatusMessage);
}

/** `error` message (serialized). */
export function errorMessage(code: string, message: string, fatal: boolean): string {
  return JSON.stringify({ type: "error", code, message, fatal } satisfies ErrorMessage);
}

/** The one `ack_required` notice a client gets when its send budget runs out. */
export const ACK_REQUIRED = errorMessage(
  "ack_required",
  'send budget used up: send {"op":"ack","seq":N} with the last seq you processed to receive the latest data',
  false,
);

/** `lagging` message (serialized). */
export function laggingMessage(
  instId: string,
  lagMs: number,
  boundMs: number,
  at: number,
  scope: LaggingMessage["scope"] = "client",
): string {
  return JSON.stringify({ type: "lagging", instId, scope, lagMs, boundMs, at } satisfies LaggingMessage);
}

/** The answer to an invalid client message. */
export function badMessage(reason: string): string {
  return errorMessage("bad_message", reason, false);
}
