/**
 * The cryptofeed raw-capture line format, which the local exchange replays and `npm run record` writes:
 *   "<url> <-> <unix_ts>"            connection opened
 *   "<url> <- <unix_ts>: <json>"     message sent by the recorder (subscribe requests)
 *   "<unix_ts>: <json>"              message received, raw JSON exactly as OKX sent it
 * The JSON payload is everything from the first '{' on. Timestamps are Unix seconds with a fraction.
 */

export type CaptureRecord =
  | { readonly kind: "connect"; readonly url: string; readonly t: number }
  | { readonly kind: "sent"; readonly url: string; readonly t: number; readonly json: string }
  | { readonly kind: "recv"; readonly t: number; readonly json: string };

const CONNECT_RE = /^(\S+) <-> (\d+(?:\.\d+)?)\s*$/;
const SENT_RE = /^(\S+) <- (\d+(?:\.\d+)?): /;
const RECV_RE = /^(\d+(?:\.\d+)?): /;

/** Parse one capture line; returns null for blank or unrecognised lines (the caller counts them). */
export function parseCaptureLine(line: string): CaptureRecord | null {
  if (line.length === 0) return null;
  let m = RECV_RE.exec(line);
  if (m) {
    const brace = line.indexOf("{");
    return brace < 0 ? null : { kind: "recv", t: +m[1]!, json: line.slice(brace) };
  }
  m = SENT_RE.exec(line);
  if (m) {
    const brace = line.indexOf("{");
    return brace < 0 ? null : { kind: "sent", url: m[1]!, t: +m[2]!, json: line.slice(brace) };
  }
  m = CONNECT_RE.exec(line);
  if (m) return { kind: "connect", url: m[1]!, t: +m[2]! };
  return null;
}

/** Format a received message as a capture line (used by the recorder). */
export function formatRecvLine(tSeconds: number, json: string): string {
  return `${tSeconds.toFixed(6)}: ${json}`;
}

/** Format a connection line (used by the recorder). */
export function formatConnectLine(url: string, tSeconds: number): string {
  return `${url} <-> ${tSeconds.toFixed(6)}`;
}
