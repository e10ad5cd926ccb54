/**
 * OKX v5 public WebSocket protocol (wss://ws.okx.com:8443/ws/v5/public), the subset TradeSim speaks:
 * `subscribe`/`unsubscribe` requests and their acks, `error` and `notice` events, `books` and `trades` pushes,
 * and the text keepalive `ping` -> `pong`.
 *
 * Both the relay (client side) and the local exchange (server side) use these types, so the offline path and the
 * production path share one definition of the wire format.
 */

/** Level as OKX sends it: [price, size, deprecated liquidated-orders "0", number of orders], all strings. */
export type OkxLevel = readonly [px: string, sz: string, liq?: string, orders?: string, ...rest: string[]];

export type OkxChannel = "books" | "trades";

export interface OkxArg {
  readonly channel: string;
  readonly instId: string;
}

export type OkxRequest =
  | { readonly op: "subscribe"; readonly args: readonly OkxArg[]; readonly id?: string }
  | { readonly op: "unsubscribe"; readonly args: readonly OkxArg[]; readonly id?: string };

export interface OkxBookData {
  readonly asks: readonly OkxLevel[];
  readonly bids: readonly OkxLevel[];
  /** Exchange timestamp, Unix ms, as a string. */
  readonly ts: string;
  /** Signed int32 CRC of the top 25 levels; 0 since OKX deprecated it (2026-06-23). Absent in some captures. */
  readonly checksum?: number;
  /** Absent in captures recorded before 2023. */
  readonly seqId?: number;
  readonly prevSeqId?: number;
}

export interface OkxTradeData {
  readonly instId: string;
  readonly tradeId: string;
  readonly px: string;
  readonly sz: string;
  readonly side: "buy" | "sell";
  readonly ts: string;
}

/** Every message OKX sends on the public socket, discriminated by `kind` after `parseOkxMessage`. */
export type OkxMessage =
  | { readonly kind: "pong" }
  | { readonly kind: "subscribed"; readonly arg: OkxArg }
  | { readonly kind: "unsubscribed"; readonly arg: OkxArg }
  | { readonly kind: "error"; readonly code: string; readonly msg: string }
  | { readonly kind: "notice"; readonly code: string; readonly msg: string }
  | { readonly kind: "books"; readonly arg: OkxArg; readonly action: "snapshot" | "update"; readonly data: OkxBookData }
  | { readonly kind: "trades"; readonly arg: OkxArg; readonly data: readonly OkxTradeData[] }
  | { readonly kind: "other"; readonly raw: unknown };

/** Raw JSON shapes of OKX's event frames as they appear on the wire (the local exchange builds them with these). */
export type OkxWireEvent =
  | { event: "subscribe" | "unsubscribe"; arg: OkxArg; connId: string }
  | { event: "error"; code: string; msg: string; connId: string }
  | { event: "notice"; code: string; msg: string; connId: string };

/** A `trades` push as OKX sends it. */
export interface OkxWireTrades {
  arg: OkxArg;
  data: readonly OkxTradeData[];
}

export interface OkxWireBooks {
  arg: OkxArg;
  action: "snapshot" | "update";
  data: [OkxBookData];
}

/** OKX notice code: "The connection will soon be closed for a service upgrade. Please reconnect." */
export const NOTICE_SERVICE_UPGRADE = "64008";

/** Thrown for frames that are not valid OKX messages; the relay logs it and resyncs. */
export class OkxProtocolError extends Error {
  override name = "OkxProtocolError";
}

/** A malformed `trades` push: callers that keep a book must not resync it for this (trades never touch it). */
export class OkxTradesError extends OkxProtocolError {
  override name = "OkxTradesError";
}

/** The subscribe / unsubscribe request for `channels` of one instrument (serialized). */
export function okxRequest(op: "subscribe" | "unsubscribe", instId: string, channels: readonly OkxChannel[]): string {
  return JSON.stringify({ op, args: channels.map((channel) => ({ channel, instId })) } satisfies OkxRequest);
}

/** instId format accepted by the relay: e.g. BTC-USDT, BTC-USDT-SWAP, BTC-USD-240927, BTC-USD-240927-60000-C. */
export const INST_ID_RE = /^[A-Z0-9]{1,20}(-[A-Z0-9]{1,20}){1,4}$/;

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isArg(v: unknown): v is OkxArg {
  return isObj(v) && typeof v.channel === "string" && typeof v.instId === "string";
}

// Levels themselves are validated where they are used (src/okx/book.ts rejects non-string or non-numeric levels
// as a malformed message): checking them here too would walk every level twice on the hot path.
function checkLevels(v: unknown, where: string): readonly OkxLevel[] {
  if (!Array.isArray(v)) throw new OkxProtocolError(`${where} is not an array`);
  return v as OkxLevel[];
}

function optInt(v: unknown, where: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "number" || !Number.isInteger(v)) throw new OkxProtocolError(`${where} is not an integer`);
  return v;
}

/**
 * Parse one text frame from the OKX public socket. Throws `OkxProtocolError` for malformed JSON or a books push
 * whose shape is wrong; unknown but well-formed messages come back as `kind: "other"`.
 */
export function parseOkxMessage(text: string): OkxMessage {
  if (text === "pong") return { kind: "pong" };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new OkxProtocolError(`not JSON: ${text.slice(0, 80)}`);
  }
  if (!isObj(raw)) throw new OkxProtocolError("frame is not a JSON object");
  const ev = raw.event;
  if (typeof ev === "string") {
    switch (ev) {
      case "subscribe":
      case "unsubscribe":
        if (!isArg(raw.arg)) throw new OkxProtocolError(`${ev} ack without arg`);
        return { kind: ev === "subscribe" ? "subscribed" : "unsubscribed", arg: raw.arg };
      case "error":
      case "notice":
        return { kind: ev, code: String(raw.code ?? ""), msg: String(raw.msg ?? "") };
      default:
        return { kind: "other", raw };
    }
  }
  const arg = raw.arg;
  if (!isArg(arg)) return { kind: "other", raw };
  if (arg.channel === "books" || arg.channel.startsWith("books")) {
    const action = raw.action;
    if (action !== "snapshot" && action !== "update")
      throw new OkxProtocolError(`books push with action ${String(action)}`);
    const data = raw.data;
    if (!Array.isArray(data) || data.length < 1 || !isObj(data[0]))
      throw new OkxProtocolError("books push without data[0]");
    const d = data[0];
    const ts = d.ts;
    if (typeof ts !== "string" || !/^\d{1,16}$/.test(ts)) throw new OkxProtocolError("books push with invalid ts");
    const checksum = optInt(d.checksum, "checksum");
    const seqId = optInt(d.seqId, "seqId");
    const prevSeqId = optInt(d.prevSeqId, "prevSeqId");
    const book: OkxBookData = {
      asks: checkLevels(d.asks, "asks"),
      bids: checkLevels(d.bids, "bids"),
      ts,
      checksum,
      seqId,
      prevSeqId,
    };
    return { kind: "books", arg, action, data: book };
  }
  if (arg.channel === "trades") {
    if (!Array.isArray(raw.data)) throw new OkxTradesError("trades push without data");
    return { kind: "trades", arg, data: raw.data as OkxTradeData[] };
  }
  return { kind: "other", raw };
}
