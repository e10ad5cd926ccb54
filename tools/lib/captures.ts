/**
 * Node-side access to capture files (plain or gzipped cryptofeed raw format) and the bundled real data.
 * Used by the local exchange, the CLIs, the Node tests and the benchmarks.
 */
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseCaptureLine, type CaptureRecord } from "../../src/okx/capture.js";

/** Repository root (two levels above this file). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** Real captures bundled in `data/` (licences beside them). */
export const DATA = {
  /** 6-minute real BTC perpetual stream as OKX `books` pushes (seqId chain, checksums); default for `npm start`. */
  btcSwap: resolve(REPO_ROOT, "data/binance-usdm-btcusdt-2024-08-08/BTC-USDT-SWAP.books.txt.gz"),
  /** cryptofeed OKX captures (pre-2023 format: checksums, no seqId). */
  okex20210722: resolve(REPO_ROOT, "data/cryptofeed/okex-2021-07-22.OKEX.ws.1.0.txt"),
  okx20220227: resolve(REPO_ROOT, "data/cryptofeed/okx-2022-02-27.OKX.ws.1.0.txt"),
  okx20220513: resolve(REPO_ROOT, "data/cryptofeed/okx-2022-05-13.OKX.ws.1.0.txt"),
  /** REST `GET /api/v5/public/instruments` responses captured 2022-05-13. */
  instruments20220513: resolve(REPO_ROOT, "data/cryptofeed/okx-2022-05-13.OKX.rest-instruments.txt.gz"),
  /** 6 minutes of OKCoin BTC/CNY, top-20 books + every trade (MIT; test/fixtures/trades/SOURCE.txt). */
  okcoinTrades: resolve(REPO_ROOT, "test/fixtures/trades/okcoin-btccny-2016-03-03-6min.txt.gz"),
  checksumVectors: resolve(REPO_ROOT, "data/okx-checksum-vectors/okx_checksum_vectors.json"),
} as const;

/** Read a capture file (gzip detected by magic bytes) as text. */
export function readCaptureText(path: string): string {
  const buf = readFileSync(path);
  return (buf[0] === 0x1f && buf[1] === 0x8b ? gunzipSync(buf) : buf).toString("utf8");
}

/** Parse a capture file into records, skipping unrecognised lines. */
export function readCapture(path: string): CaptureRecord[] {
  const out: CaptureRecord[] = [];
  for (const line of readCaptureText(path).split("\n")) {
    const r = parseCaptureLine(line.trimEnd());
    if (r) out.push(r);
  }
  return out;
}

/** The raw JSON text of every received message in a capture, in order. */
export function receivedMessages(path: string): { t: number; json: string }[] {
  return readCapture(path).flatMap((r) => (r.kind === "recv" ? [{ t: r.t, json: r.json }] : []));
}
