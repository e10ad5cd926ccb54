/**
 * OKX `GET /api/v5/public/instruments` for the local exchange, answered from a REAL capture of OKX's responses
 * (data/cryptofeed/okx-2022-05-13.OKX.rest-instruments.txt.gz: 25 responses for SPOT, SWAP, FUTURES and
 * OPTION uly=BTC-USD / ETH-USD, recorded 2022-05-13). The instrument records are served verbatim, so the
 * simulator's instrument look-up runs offline against what OKX really returned.
 *
 * File format: one line per response, `<url> -> <unix_ts>: <json response>`; other lines (the recorder's
 * `configuration:` line) are skipped. When a URL was captured several times, the LAST response wins.
 *
 * Behaviour mirrors OKX's documented parameters: `instType` required (SPOT|MARGIN|SWAP|FUTURES|OPTION), `uly` or
 * `instFamily` required for OPTION and only applicable to derivatives, `instId` optional. Errors use OKX codes:
 * 50014 (required parameter empty), 51000 (parameter error), 51001 (instrument does not exist), always with
 * `data: []`. Limitations, stated: MARGIN is derived from SPOT records with a non-empty `lever` (the capture has
 * no MARGIN response); options exist only for the two captured underlyings; the HTTP status of OKX's error
 * answers is not in the capture, so errors use 400 (clients, ours included, must read `code`).
 *
 * The exchange's HTTP server calls `handleInstrumentsRequest(url)`; null means "not this endpoint".
 * `handlePriceLimitRequest` answers `GET /api/v5/public/price-limit` from configuration (see PriceLimitConfig),
 * and `handlePublicRequest` answers both.
 */
import { DATA, readCaptureText } from "../lib/captures.js";

type Rec = Record<string, unknown>;

/** The parsed capture: instrument records by instType (options also by underlying). */
export interface InstrumentsStore {
  readonly path: string;
  /** SPOT, SWAP, FUTURES records in OKX's order. */
  readonly byType: ReadonlyMap<string, readonly Rec[]>;
  /** OPTION records by underlying (uly), e.g. "BTC-USD". */
  readonly optionsByUly: ReadonlyMap<string, readonly Rec[]>;
  /** Capture time (Unix seconds) of each response used, by its URL. */
  readonly capturedAt: ReadonlyMap<string, number>;
}

const LINE_RE = /^(\S+) -> (\d+(?:\.\d+)?): /;
const PATH = "/api/v5/public/instruments";
const TYPES = ["SPOT", "MARGIN", "SWAP", "FUTURES", "OPTION"] as const;

let current: InstrumentsStore | null = null;
/** Serialized full-list answers, by "instType|uly" (the big lists are built once). */
const listCache = new Map<string, string>();

/**
 * Read the gzipped (or plain) capture at `path` and make it the store `handleInstrumentsRequest` answers from.
 * Throws if the file holds no usable instruments response (a broken capture must not look like "no instruments").
 */
export function loadInstruments(path: string): InstrumentsStore {
  const byUrl = new Map<string, { t: number; data: Rec[] }>();
  for (const line of readCaptureText(path).split("\n")) {
    const m = LINE_RE.exec(line);
    if (!m) continue;
    const brace = line.indexOf("{", m[0].length - 1);
    if (brace < 0) continue;
    let body: unknown;
    try {
      body = JSON.parse(line.slice(brace));
    } catch {
      continue;
    }
    const b = body as Rec;
    if (typeof b !== "object" || b === null || b.code !== "0" || !Array.isArray(b.data)) continue;
    byUrl.set(m[1]!, { t: Number(m[2]), data: b.data as Rec[] });
  }
  const byType = new Map<string, Rec[]>();
  const optionsByUly = new Map<string, Rec[]>();
  const capturedAt = new Map<string, number>();
  for (const [url, { t, data }] of byUrl) {
    const q = new URL(url).searchParams;
    const instType = q.get("instType") ?? "";
    capturedAt.set(url, t);
    if (instType === "OPTION") {
      const uly = q.get("uly") ?? q.get("instFamily") ?? "";
      optionsByUly.set(uly, data);
    } else if (instType !== "") {
      byType.set(instType, data);
    }
  }
  if (byType.size === 0 && optionsByUly.size === 0) throw new Error(`${path}: no instruments responses found`);
  current = { path, byType, optionsByUly, capturedAt };
  listCache.clear();
  return current;
}

function store(): InstrumentsStore {
  return current ?? loadInstruments(DATA.instruments20220513);
}

function okxError(code: string, msg: string): { status: number; body: string } {
  return { status: 400, body: JSON.stringify({ code, data: [], msg }) };
}

function ok(data: readonly Rec[]): string {
  return JSON.stringify({ code: "0", data, msg: "" });
}

/** MARGIN records: margin-enabled spot pairs (non-empty `lever`), re-typed as OKX does for instType=MARGIN. */
function marginRecords(s: InstrumentsStore): Rec[] {
  return (s.byType.get("SPOT") ?? [])
    .filter((r) => typeof r.lever === "string" && r.lever !== "")
    .map((r) => ({ ...r, instType: "MARGIN" }));
}

/**
 * Answer `GET /api/v5/public/instruments?...` like OKX (`{"code":"0","data":[...],"msg":""}`, or an OKX error
 * code with `data: []`). Returns null for any other path so the caller can route it elsewhere.
 */
export function handleInstrumentsRequest(url: URL): { status: number; body: string } | null {
  if (url.pathname !== PATH) return null;
  const q = url.searchParams;
  const instType = q.get("instType");
  if (instType === null || instType === "") return okxError("50014", "Parameter instType can not be empty.");
  if (!(TYPES as readonly string[]).includes(instType)) return okxError("51000", "Parameter instType error");
  const uly = q.get("uly") || null;
  const instFamily = q.get("instFamily") || null;
  const instId = q.get("instId") || null;
  const derivative = instType === "SWAP" || instType === "FUTURES" || instType === "OPTION";
  if (!derivative && (uly !== null || instFamily !== null))
    return okxError("51000", `Parameter ${uly !== null ? "uly" : "instFamily"} error`);
  if (instType === "OPTION" && uly === null && instFamily === null)
    return okxError("50014", "Parameter uly can not be empty.");

  const s = store();
  const family = instFamily ?? uly;
  const cacheKey = `${instType}|${family ?? ""}`;
  let list: readonly Rec[];
  if (instType === "OPTION") list = s.optionsByUly.get(family!) ?? [];
  else if (instType === "MARGIN") list = marginRecords(s);
  else list = s.byType.get(instType) ?? [];
  // For linear and inverse swaps/futures the instrument family equals the underlying (e.g. BTC-USDT, BTC-USD).
  if (family !== null && instType !== "OPTION") list = list.filter((r) => r.uly === family || r.instFamily === family);

  if (instId !== null) {
    const rec = list.find((r) => r.instId === instId);
    if (rec === undefined) return okxError("51001", "Instrument ID does not exist");
    return { status: 200, body: ok([rec]) };
  }
  let body = listCache.get(cacheKey);
  if (body === undefined) {
    body = ok(list);
    listCache.set(cacheKey, body);
  }
  return { status: 200, body };
}

const PRICE_LIMIT_PATH = "/api/v5/public/price-limit";

/** A price band as the local exchange serves it: buyLmt / sellLmt around a reference price. */
export interface PriceLimitConfig {
  /** Reference price, quote per base (OKX derives its band from the mark/index price). */
  readonly refPx: number;
  /** Band half-width as a fraction of refPx (0.02 = buyLmt 2 % above, sellLmt 2 % below). */
  readonly band: number;
}

/**
 * Price limits the local exchange serves (configuration, not a capture: the 2022 REST capture has no
 * price-limit answers). BTC-USDT-SWAP is centred on the first mid of the bundled 2024-08-08 stream
 * (61,800.25) with a +-2 % band, wide enough that the replayed prices never reach it and orders that walk
 * further are clipped. Instruments listed in the capture but absent here answer `enabled: false` with "" limits,
 * as OKX does when no limit is in force.
 */
const DEFAULT_PRICE_LIMITS: Record<string, PriceLimitConfig> = { "BTC-USDT-SWAP": { refPx: 61800.25, band: 0.02 } };
let priceLimits: Record<string, PriceLimitConfig> = DEFAULT_PRICE_LIMITS;

/** Replace the price-limit configuration (tests, CLI); `null` restores the default. */
export function setPriceLimits(config: Record<string, PriceLimitConfig> | null): void {
  priceLimits = config ?? DEFAULT_PRICE_LIMITS;
}

/** A price on `tickSz` (string, as OKX prints it), rounded toward the reference so the band never widens. */
function onTick(px: number, tick: string, down: boolean): string {
  const t = Number(tick) || 0.1;
  const d = (tick.split(".")[1] ?? "").length;
  const n = down ? Math.floor(px / t + 1e-9) : Math.ceil(px / t - 1e-9);
  return (n * t).toFixed(d);
}

/**
 * Answer `GET /api/v5/public/price-limit?instId=...` like OKX (docs-v5 "Get limit price"): `{code:"0", msg:"",
 * data:[{instType, instId, buyLmt, sellLmt, ts, enabled}]}`; 50014 without instId, 51001 for an instrument the
 * capture does not list. Returns null for any other path.
 */
export function handlePriceLimitRequest(url: URL, now = Date.now()): { status: number; body: string } | null {
  if (url.pathname !== PRICE_LIMIT_PATH) return null;
  const instId = url.searchParams.get("instId") || null;
  if (instId === null) return okxError("50014", "Parameter instId can not be empty.");
  const s = store();
  let rec: Rec | undefined;
  for (const list of [...s.byType.values(), ...s.optionsByUly.values()]) {
    rec = list.find((r) => r.instId === instId);
    if (rec !== undefined) break;
  }
  if (rec === undefined) return okxError("51001", "Instrument ID does not exist");
  const cfg = priceLimits[instId];
  const tick = typeof rec.tickSz === "string" ? rec.tickSz : "0.1";
  const data = {
    instType: rec.instType,
    instId,
    buyLmt: cfg === undefined ? "" : onTick(cfg.refPx * (1 + cfg.band), tick, true),
    sellLmt: cfg === undefined ? "" : onTick(cfg.refPx * (1 - cfg.band), tick, false),
    ts: String(now),
    enabled: cfg !== undefined,
  };
  return { status: 200, body: JSON.stringify({ code: "0", msg: "", data: [data] }) };
}

/** Both public REST endpoints the local exchange serves (instruments, price-limit); null for other paths. */
export function handlePublicRequest(url: URL): { status: number; body: string } | null {
  return handleInstrumentsRequest(url) ?? handlePriceLimitRequest(url);
}
