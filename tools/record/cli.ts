/**
 * `npm run record -- --instId BTC-USDT-SWAP --out FILE [--url URL] [--channels books,trades] [--duration S]`
 *
 * Records an OKX v5 public WebSocket stream (production OKX by default, or the local exchange) into the
 * cryptofeed raw-capture format (src/okx/capture.ts) that the local exchange replays and `npm run features`
 * reads, so users can collect their own training data. Gzipped when FILE ends in `.gz`.
 *
 * - Subscribes to every channel x instId (`--instId` may be given several times or comma-separated).
 * - Keeps the connection alive with the text `ping` every 20 s (OKX drops sockets idle for 30 s).
 * - Reconnects with backoff after an unexpected close (e.g. OKX's 64008 service-upgrade notice), writing a new
 *   connection line; the new subscription starts with a fresh snapshot, which replays cleanly.
 * - Prints progress (messages, books, trades, elapsed) to stderr; stops cleanly, with a complete gzip
 *   trailer, on SIGINT/SIGTERM or after `--duration` seconds.
 * - An OKX `error` event (e.g. unknown instId) stops the recording with exit code 1.
 */
import { createWriteStream, type WriteStream } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { createGzip, type Gzip } from "node:zlib";
import WebSocket from "ws";
import { formatConnectLine, formatRecvLine } from "../../src/okx/capture.js";
import { INST_ID_RE, parseOkxMessage, type OkxArg } from "../../src/okx/protocol.js";

export const OKX_PUBLIC_URL = "wss://ws.okx.com:8443/ws/v5/public";

export interface RecordOptions {
  readonly url?: string;
  readonly instIds: readonly string[];
  readonly channels?: readonly ("books" | "trades")[];
  readonly out: string;
  /** Stop after this many seconds (default: until aborted). */
  readonly durationSec?: number;
  readonly signal?: AbortSignal;
  /** Keepalive period (default 20 s; OKX closes sockets idle for 30 s). */
  readonly pingIntervalMs?: number;
  /** Reconnect after an unexpected close (default true). */
  readonly reconnect?: boolean;
  /** Called about once a second with the running counts. */
  readonly onProgress?: (s: RecordStats) => void;
  readonly log?: (line: string) => void;
}

export interface RecordStats {
  /** Frames written (everything received except `pong`). */
  messages: number;
  books: number;
  trades: number;
  /** Frames that were not valid OKX messages (written anyway: the capture is raw). */
  malformed: number;
  connects: number;
  subscribed: number;
  elapsedSec: number;
  /** Why the recording ended: "duration", "signal", or an error text. */
  stopReason: string;
}

/** The sent-line format of cryptofeed captures (capture.ts parses it; it has no formatter of its own). */
function formatSentLine(url: string, tSeconds: number, json: string): string {
  return `${url} <- ${tSeconds.toFixed(6)}: ${json}`;
}

/** Line sink writing plain text or gzip; `close` resolves once every byte (and the gzip trailer) is on disk. */
function openSink(path: string): { write(line: string): void; close(): Promise<void> } {
  const file: WriteStream = createWriteStream(path);
  const gz: Gzip | null = path.endsWith(".gz") ? createGzip() : null;
  if (gz) gz.pipe(file);
  const target = gz ?? file;
  const done = new Promise<void>((res, rej) => {
    file.on("close", res);
    file.on("error", rej);
    gz?.on("error", rej);
  });
  return {
    write: (line) => void target.write(line + "\n"),
    close: () => {
      target.end();
      return done;
    },
  };
}

/**
 * Record until `durationSec` elapses, `signal` aborts, or OKX reports an error. Resolves with the counts once the
 * file is complete; rejects (after closing the file) on an OKX error event or a file error.
 */
export async function record(o: RecordOptions): Promise<RecordStats> {
  const url = o.url ?? OKX_PUBLIC_URL;
  const channels = o.channels ?? ["books", "trades"];
  const log = o.log ?? (() => {});
  const pingMs = o.pingIntervalMs ?? 20_000;
  for (const id of o.instIds) if (!INST_ID_RE.test(id)) throw new Error(`invalid instId ${id}`);
  if (o.instIds.length === 0) throw new Error("no instId");
  const args: OkxArg[] = o.instIds.flatMap((instId) => channels.map((channel) => ({ channel, instId })));
  const subscribe = JSON.stringify({ op: "subscribe", args });

  const sink = openSink(o.out);
  const stats: RecordStats = {
    messages: 0,
    books: 0,
    trades: 0,
    malformed: 0,
    connects: 0,
    subscribed: 0,
    elapsedSec: 0,
    stopReason: "",
  };
  const t0 = Date.now();
  let ws: WebSocket | null = null;
  let stopping = false;
  let fatal: Error | null = null;
  let backoff = 1000;
  let pingTimer: NodeJS.Timeout | undefined;
  let reconnectTimer: NodeJS.Timeout | undefined;
  let finish!: () => void;
  const finished = new Promise<void>((r) => (finish = r));

  const stop = (reason: string) => {
    if (stopping) return;
    stopping = true;
    stats.stopReason = reason;
    clearInterval(pingTimer);
    clearTimeout(reconnectTimer);
    if (ws && ws.readyState !== WebSocket.CLOSED) {
      const w = ws;
      const kill = setTimeout(() => w.terminate(), 2000);
      w.once("close", () => {
        clearTimeout(kill);
        finish();
      });
      if (w.readyState === WebSocket.CONNECTING) w.terminate();
      else w.close(1000, "recording stopped");
    } else {
      finish();
    }
  };

  const connect = () => {
    if (stopping) return;
    const w = new WebSocket(url, { handshakeTimeout: 10_000 });
    ws = w;
    w.on("open", () => {
      backoff = 1000;
      stats.connects++;
      const now = Date.now() / 1000;
      sink.write(formatConnectLine(url, now));
      sink.write(formatSentLine(url, now, subscribe));
      w.send(subscribe);
      log(`record: connected to ${url}, subscribing ${args.map((a) => `${a.channel}:${a.instId}`).join(", ")}`);
      clearInterval(pingTimer);
      pingTimer = setInterval(() => w.readyState === WebSocket.OPEN && w.send("ping"), pingMs);
    });
    w.on("message", (data, isBinary) => {
      if (isBinary) return;
      const text = data.toString();
      if (text === "pong") return;
      sink.write(formatRecvLine(Date.now() / 1000, text));
      stats.messages++;
      try {
        const m = parseOkxMessage(text);
        if (m.kind === "books") stats.books++;
        else if (m.kind === "trades") stats.trades += m.data.length;
        else if (m.kind === "subscribed") stats.subscribed++;
        else if (m.kind === "notice") log(`record: notice ${m.code} ${m.msg}`);
        else if (m.kind === "error") {
          fatal = new Error(`OKX error ${m.code}: ${m.msg}`);
          stop(fatal.message);
        }
      } catch {
        stats.malformed++;
      }
    });
    w.on("error", (e) => log(`record: socket error: ${e.message}`));
    w.on("close", (code, reason) => {
      clearInterval(pingTimer);
      if (ws !== w) return;
      if (stopping) return;
      if (o.reconnect === false) return stop(`closed ${code}`);
      log(`record: connection closed (${code} ${reason.toString()}); reconnecting in ${backoff / 1000} s`);
      reconnectTimer = setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, 30_000);
    });
  };

  const onAbort = () => stop("signal");
  if (o.signal?.aborted) stop("signal");
  o.signal?.addEventListener("abort", onAbort, { once: true });
  const durationTimer =
    o.durationSec !== undefined ? setTimeout(() => stop("duration"), o.durationSec * 1000) : undefined;
  const progressTimer = setInterval(() => {
    stats.elapsedSec = (Date.now() - t0) / 1000;
    o.onProgress?.({ ...stats });
  }, 1000);
  connect();

  await finished;
  clearTimeout(durationTimer);
  clearInterval(progressTimer);
  o.signal?.removeEventListener("abort", onAbort);
  await sink.close();
  stats.elapsedSec = (Date.now() - t0) / 1000;
  if (fatal) throw fatal;
  return stats;
}

const USAGE =
  "usage: npm run record -- --instId BTC-USDT-SWAP --out FILE[.gz] [--url ws://127.0.0.1:8080/ws/v5/public] [--channels books,trades] [--duration S]";

function progressLine(s: RecordStats): string {
  return `record: ${s.elapsedSec.toFixed(0)} s, ${s.messages} messages, ${s.books} books, ${s.trades} trades`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      instId: { type: "string", multiple: true },
      out: { type: "string" },
      url: { type: "string", default: OKX_PUBLIC_URL },
      channels: { type: "string", default: "books,trades" },
      duration: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
  if (values.help) return void console.log(USAGE);
  const instIds = (values.instId ?? []).flatMap((s) => s.split(",")).filter(Boolean);
  const channels = values.channels.split(",").filter(Boolean);
  const bad = channels.filter((c) => c !== "books" && c !== "trades");
  if (!values.out || instIds.length === 0 || bad.length > 0 || channels.length === 0) {
    if (bad.length) console.error(`unknown channel(s): ${bad.join(", ")} (books, trades)`);
    console.error(USAGE);
    process.exit(2);
  }
  const durationSec = values.duration !== undefined ? Number(values.duration) : undefined;
  if (durationSec !== undefined && !(durationSec > 0)) {
    console.error(`--duration must be a positive number of seconds, got ${values.duration}`);
    process.exit(2);
  }
  const out = resolve(values.out);
  const ac = new AbortController();
  for (const sig of ["SIGINT", "SIGTERM"] as const) process.once(sig, () => ac.abort());
  const tty = process.stderr.isTTY;
  let lastLine = 0;
  try {
    const s = await record({
      url: values.url,
      instIds,
      channels: channels as ("books" | "trades")[],
      out,
      ...(durationSec !== undefined && { durationSec }),
      signal: ac.signal,
      log: (l) => console.error(tty ? `\r\x1b[K${l}` : l),
      onProgress: (p) => {
        if (tty) process.stderr.write(`\r\x1b[K${progressLine(p)}`);
        else if (p.elapsedSec - lastLine >= 10) {
          lastLine = p.elapsedSec;
          console.error(progressLine(p));
        }
      },
    });
    console.error(`${tty ? "\r\x1b[K" : ""}${progressLine(s)}; stopped (${s.stopReason}) -> ${out}`);
  } catch (e) {
    console.error(`${tty ? "\r\x1b[K" : ""}record: ${(e as Error).message} (partial capture kept in ${out})`);
    process.exit(1);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) void main();
