/**
 * OKX order-book checksum: CRC-32 (IEEE 802.3 / zlib) over the top 25 levels of each side interleaved as
 * `bidPx:bidSz:askPx:askSz:...`, using the ORIGINAL price/size strings, compared as a signed int32.
 * When one side has fewer than 25 levels its missing entries are skipped (no empty fields).
 *
 * Runtime fact: OKX deprecated the field on 2026-06-23; since then every books push carries `checksum: 0`.
 * Callers therefore verify only when the pushed value is non-zero (see `book.ts`).
 *
 * The CRC is computed incrementally over the strings' char codes, never materialising the joined string:
 * this is on the hot path of every book message (relay verification and the checksum sent to clients).
 */

/** Number of levels per side that the OKX checksum covers. */
export const CHECKSUM_DEPTH = 25;

const TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();

const COLON = 0x3a;

function crcString(crc: number, s: string): number {
  for (let i = 0; i < s.length; i++) crc = TABLE[(crc ^ s.charCodeAt(i)) & 0xff]! ^ (crc >>> 8);
  return crc;
}

/** Anything with the original price and size strings, e.g. a book `Level` or a raw `[px, sz, ...]` tuple. */
export interface PxSz {
  readonly px: string;
  readonly sz: string;
}

/** CRC-32 of an arbitrary ASCII string, as a signed int32 (zlib.crc32(s) | 0). */
export function crc32(s: string): number {
  return (crcString(-1, s) ^ -1) | 0;
}

/**
 * CRC-32 is linear over GF(2): feeding bytes `d` into state `s` gives `shift_len(d)(s) XOR feed(0, d)`. So the CRC of
 * a level's ":px:sz" text can be computed once per level (`raw`, cached on the level) and combined with the running
 * state by a 4-lookup "advance through len zero bytes" table, instead of re-hashing every character of the top 25
 * levels on every message. Tables are built lazily per length (1 KiB each; OKX levels are ~10..30 chars).
 */
const SHIFT = new Map<number, Int32Array>();

function shiftTable(len: number): Int32Array {
  let t = SHIFT.get(len);
  if (t === undefined) {
    t = new Int32Array(1024);
    for (let b = 0; b < 4; b++) {
      for (let v = 0; v < 256; v++) {
        let c = (v << (8 * b)) | 0;
        for (let i = 0; i < len; i++) c = TABLE[c & 0xff]! ^ (c >>> 8);
        t[b * 256 + v] = c;
      }
    }
    SHIFT.set(len, t);
  }
  return t;
}

/** A level with its cached ":px:sz" CRC (zero-initialised, no final xor) and length; filled on first use. */
interface CachedLevel extends PxSz {
  crcRaw?: number;
  crcLen?: number;
}

const MAX_SHIFT_LEN = 64;

/** Feed ":px:sz" of `l` into `crc` (the cached path for every element but the very first). */
function feedLevel(crc: number, l: CachedLevel): number {
  let raw = l.crcRaw;
  let len = l.crcLen;
  if (raw === undefined || len === undefined) {
    len = 2 + l.px.length + l.sz.length;
    raw = TABLE[COLON]!; // the state after feeding ":" into a zero state
    raw = crcString(raw, l.px);
    raw = TABLE[(raw ^ COLON) & 0xff]! ^ (raw >>> 8);
    raw = crcString(raw, l.sz);
    if (len <= MAX_SHIFT_LEN) {
      l.crcRaw = raw;
      l.crcLen = len;
    } else {
      // very long strings: plain byte loop
      crc = TABLE[(crc ^ COLON) & 0xff]! ^ (crc >>> 8);
      crc = crcString(crc, l.px);
      crc = TABLE[(crc ^ COLON) & 0xff]! ^ (crc >>> 8);
      return crcString(crc, l.sz);
    }
  }
  const t = shiftTable(len);
  return (
    t[crc & 0xff]! ^ t[256 + ((crc >>> 8) & 0xff)]! ^ t[512 + ((crc >>> 16) & 0xff)]! ^ t[768 + (crc >>> 24)]! ^ raw
  );
}

/**
 * One interleaving step of the OKX checksum: feeds `bid` then `ask` (either may be absent) into the running CRC
 * state `crc` (pre-final-xor). `first` is true only for step 0, whose first element has no ':' before it.
 * Exposed so the book can cache the state after each step and resume from the first changed level.
 */
export function checksumStep(crc: number, first: boolean, bid: PxSz | undefined, ask: PxSz | undefined): number {
  if (bid !== undefined) {
    if (first) {
      crc = crcString(crc, bid.px);
      crc = TABLE[(crc ^ COLON) & 0xff]! ^ (crc >>> 8);
      crc = crcString(crc, bid.sz);
      first = false;
    } else {
      crc = feedLevel(crc, bid);
    }
  }
  if (ask !== undefined) {
    if (first) {
      crc = crcString(crc, ask.px);
      crc = TABLE[(crc ^ COLON) & 0xff]! ^ (crc >>> 8);
      crc = crcString(crc, ask.sz);
    } else {
      crc = feedLevel(crc, ask);
    }
  }
  return crc;
}

/** Final value of a running CRC state, as OKX's signed int32. */
export function checksumFinal(crc: number): number {
  return (crc ^ -1) | 0;
}

/** OKX checksum (signed int32) of the top 25 bid/ask levels, best first on each side. */
export function okxChecksum(bids: readonly PxSz[], asks: readonly PxSz[]): number {
  let crc = -1;
  const n = Math.max(Math.min(bids.length, CHECKSUM_DEPTH), Math.min(asks.length, CHECKSUM_DEPTH));
  for (let i = 0; i < n; i++) crc = checksumStep(crc, i === 0, bids[i], asks[i]);
  return checksumFinal(crc);
}

/** The exact string OKX hashes (for diagnostics and tests; the hot path never builds it). */
export function okxChecksumString(bids: readonly PxSz[], asks: readonly PxSz[]): string {
  const parts: string[] = [];
  const n = Math.max(Math.min(bids.length, CHECKSUM_DEPTH), Math.min(asks.length, CHECKSUM_DEPTH));
  for (let i = 0; i < n; i++) {
    if (i < bids.length) parts.push(`${bids[i]!.px}:${bids[i]!.sz}`);
    if (i < asks.length) parts.push(`${asks[i]!.px}:${asks[i]!.sz}`);
  }
  return parts.join(":");
}
