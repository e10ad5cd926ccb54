/**
 * The shard link: the internal WebSocket between an instrument's relay and each of its fan-out shards
 * (shard.ts). It is not the client protocol (src/protocol.ts); clients never see these frames.
 *
 * Relay -> shard frames carry messages the relay already serialized for clients, so a shard forwards them
 * byte-for-byte and never parses or re-serializes a book. Each frame starts with one tag letter:
 * - `B<seq>;<ts>;<depth>:<length>,...\n<text><text>...`: one book change, every depth the shard asked for in
 *   ONE frame (fewer, larger messages: each WebSocket message costs a send and, on Cloudflare, billing);
 * - `A<json>`: a status (or non-fatal error) message for every client;
 * - `F<code>;<reason>\n<json>`: a fatal error: send it to every client, then close them with `code`;
 * - `P<json>` / `R<json>`: a forecast / a score for the prediction clients.
 * Shard -> relay: `{"op":"want",...}` (what the shard's clients need, sent on every change) and the text `ping`
 * (answered `pong` by the runtime's auto-response, without waking the relay).
 */

/** What a shard's clients need from the relay. */
export interface LinkWant {
  readonly op: "want";
  /** Client sockets the shard holds (for the relay's routing and /status). */
  readonly clients: number;
  /** Book depths its book clients subscribed (sorted, unique). */
  readonly depths: readonly number[];
  /** Whether it has prediction clients. */
  readonly prediction: boolean;
  /** Route tokens of the clients that arrived since the previous want (the relay stops counting them as pending). */
  readonly arrived: readonly number[];
}

/** A relay -> shard frame, parsed. */
export type LinkFrame =
  | { readonly kind: "book"; readonly seq: number; readonly ts: number; readonly books: ReadonlyMap<number, string> }
  | { readonly kind: "all"; readonly text: string }
  | { readonly kind: "fatal"; readonly code: number; readonly reason: string; readonly text: string }
  | { readonly kind: "forecast"; readonly text: string }
  | { readonly kind: "score"; readonly text: string };

/** Result of reading a link frame. */
export type LinkParse<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

/** Largest depth list a want may carry (depths are 1..400). */
const MAX_WANT_DEPTHS = 400;
/** Most route tokens one want carries (a shard sends a want every 50 ms at most; the rest expire at the relay). */
export const MAX_WANT_ARRIVED = 1000;

/** The book frame for `seq` with the book message of every depth in `texts` (depth -> serialized message). */
export function bookFrame(seq: number, ts: number, texts: ReadonlyMap<number, string>): string {
  const index: string[] = [];
  for (const [depth, text] of texts) index.push(`${depth}:${text.length}`);
  return `B${seq};${ts};${index.join(",")}\n${[...texts.values()].join("")}`;
}

/** A message for every client (status, non-fatal error). */
export function allFrame(text: string): string {
  return `A${text}`;
}

/** A fatal error: every client gets `text`, then is closed with `code`. */
export function fatalFrame(code: number, reason: string, text: string): string {
  return `F${code};${reason.replace(/[\n;]/g, " ")}\n${text}`;
}

/** A forecast for the prediction clients. */
export function forecastFrame(text: string): string {
  return `P${text}`;
}

/** A score for the prediction clients. */
export function scoreFrame(text: string): string {
  return `R${text}`;
}

/** The want message of a shard (serialized). */
export function wantMessage(
  clients: number,
  depths: Iterable<number>,
  prediction: boolean,
  arrived: readonly number[] = [],
): string {
  const d = [...new Set(depths)].sort((a, b) => a - b);
  return JSON.stringify({
    op: "want",
    clients,
    depths: d,
    prediction,
    arrived: arrived.slice(0, MAX_WANT_ARRIVED),
  } satisfies LinkWant);
}

const nonNegInt = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;

/** Parse a shard -> relay message. */
export function parseWant(frame: string | ArrayBuffer): LinkParse<LinkWant> {
  if (typeof frame !== "string") return { ok: false, error: "binary link frame" };
  let v: unknown;
  try {
    v = JSON.parse(frame);
  } catch {
    return { ok: false, error: "link frame is not JSON" };
  }
  const m = v as Partial<Record<keyof LinkWant, unknown>> | null;
  if (
    m?.op !== "want" ||
    !nonNegInt(m.clients) ||
    typeof m.prediction !== "boolean" ||
    !Array.isArray(m.depths) ||
    m.depths.length > MAX_WANT_DEPTHS ||
    !m.depths.every((d) => nonNegInt(d) && d >= 1 && d <= 400) ||
    !Array.isArray(m.arrived) ||
    m.arrived.length > MAX_WANT_ARRIVED ||
    !m.arrived.every(nonNegInt)
  ) {
    return { ok: false, error: "expected {op:'want', clients, depths, prediction, arrived}" };
  }
  const depths = [...new Set(m.depths as number[])].sort((a, b) => a - b);
  const arrived = m.arrived as number[];
  return { ok: true, value: { op: "want", clients: m.clients, depths, prediction: m.prediction, arrived } };
}

/** Parse a relay -> shard frame (the shard trusts the relay, but a bad frame is an error, never a wrong book). */
export function parseLinkFrame(frame: string): LinkParse<LinkFrame> {
  const tag = frame.charCodeAt(0);
  const rest = frame.slice(1);
  switch (tag) {
    case 65 /* A */:
      return { ok: true, value: { kind: "all", text: rest } };
    case 80 /* P */:
      return { ok: true, value: { kind: "forecast", text: rest } };
    case 82 /* R */:
      return { ok: true, value: { kind: "score", text: rest } };
    case 70 /* F */:
      {
        const nl = rest.indexOf("\n");
        const semi = rest.indexOf(";");
        const code = Number(rest.slice(0, semi));
        if (nl < 0 || semi < 0 || semi > nl || !Number.isInteger(code) || code < 1000 || code > 4999) {
          return { ok: false, error: "bad fatal frame" };
        }
        return { ok: true, value: { kind: "fatal", code, reason: rest.slice(semi + 1, nl), text: rest.slice(nl + 1) } };
      }
    case 66 /* B */:
      return parseBook(frame);
    default:
      return { ok: false, error: `unknown link frame tag ${JSON.stringify(frame.slice(0, 1))}` };
  }
}

function parseBook(frame: string): LinkParse<LinkFrame> {
  const nl = frame.indexOf("\n");
  if (nl < 0) return { ok: false, error: "book frame without a header" };
  const [seqS, tsS, indexS] = frame.slice(1, nl).split(";");
  const seq = Number(seqS);
  const ts = Number(tsS);
  if (!nonNegInt(seq) || !Number.isFinite(ts) || indexS === undefined) return { ok: false, error: "bad book header" };
  const books = new Map<number, string>();
  let at = nl + 1;
  for (const part of indexS === "" ? [] : indexS.split(",")) {
    const [d, len] = part.split(":").map(Number);
    if (!nonNegInt(d) || !nonNegInt(len) || at + len > frame.length) return { ok: false, error: "bad book index" };
    books.set(d, frame.slice(at, at + len));
    at += len;
  }
  if (at !== frame.length) return { ok: false, error: "book frame length mismatch" };
  return { ok: true, value: { kind: "book", seq, ts, books } };
}
