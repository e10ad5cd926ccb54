/**
 * Instrument specs for the execution simulator: what one unit of an OKX order book's size means.
 *
 * OKX sizes derivative books in CONTRACTS, not coins: a BTC-USDT-SWAP contract is 0.01 BTC (linear, ctVal in the
 * base coin), a BTC-USD-SWAP contract is 100 USD (inverse, ctVal in USD). Treating contracts as coins is the classic
 * simulator bug this module exists to prevent, so every fill goes through an `InstrumentSpec`.
 *
 * Specs come either from the request body or from OKX's public REST endpoint
 * `GET /api/v5/public/instruments?instType=...&instId=...`, cached in memory per isolate (keyed by base URL +
 * instId, with a TTL, negative answers cached briefly, concurrent look-ups coalesced).
 */

export const INST_TYPES = ["SPOT", "MARGIN", "SWAP", "FUTURES", "OPTION"] as const;
export type InstType = (typeof INST_TYPES)[number];
export type CtType = "linear" | "inverse";

/** Everything the simulator needs to know about an instrument (numbers already parsed). */
export interface InstrumentSpec {
  readonly instId: string;
  readonly instType: InstType;
  /**
   * Contract value, in `ctValCcy` per contract: base coin for linear contracts (0.01 BTC), USD for inverse ones
   * (100 USD). 1 for spot/margin, whose book sizes are already in the base currency.
   */
  readonly ctVal: number;
  /** Contract multiplier (OKX `ctMult`); 1 for spot. One contract = ctVal * ctMult units of ctValCcy. */
  readonly ctMult: number;
  /** linear: value fixed in the base coin; inverse: value fixed in USD, margined and settled in the coin. Spot: linear. */
  readonly ctType: CtType;
  /** Price tick, quote currency. */
  readonly tickSz: number;
  /** Order size step, in book units (contracts for derivatives, base currency for spot). */
  readonly lotSz: number;
  /** Minimum order size, in book units. */
  readonly minSz: number;
  readonly baseCcy: string;
  readonly quoteCcy: string;
  /** Settlement / margin currency of derivatives ("" for spot, as OKX reports it). */
  readonly settleCcy: string;
  /** Currency of ctVal (the base coin for linear, USD for inverse, the base currency for spot). */
  readonly ctValCcy: string;
  /** OKX state (live, suspend, preopen, test); undefined when the source did not say. */
  readonly state?: InstrumentState | undefined;
  /** Largest market order: contracts for derivatives, USDT for spot (OKX docs-v5); undefined when unknown. */
  readonly maxMktSz?: number | undefined;
  /** Largest spot market order in USD (OKX `maxMktAmt`); undefined when unknown or not applicable. */
  readonly maxMktAmt?: number | undefined;
}

export type InstrumentState = "live" | "suspend" | "preopen" | "test";
const STATES: readonly string[] = ["live", "suspend", "preopen", "test"];

/** Spot and margin books are sized in base currency; everything else in contracts. */
export function isSpotLike(t: InstType): boolean {
  return t === "SPOT" || t === "MARGIN";
}

/**
 * Infer OKX's instType from an instId, for the REST query (OKX requires instType):
 * `X-Y-SWAP` -> SWAP, `X-Y-YYMMDD` -> FUTURES, `X-Y-YYMMDD-STRIKE-C|P` -> OPTION, `X-Y` -> SPOT.
 */
export function inferInstType(instId: string): InstType | null {
  const p = instId.split("-");
  if (p.length === 2) return "SPOT";
  if (p.length === 3 && p[2] === "SWAP") return "SWAP";
  if (p.length === 3 && /^\d{6}$/.test(p[2]!)) return "FUTURES";
  if (p.length === 5 && /^\d{6}$/.test(p[2]!) && /^\d+(\.\d+)?$/.test(p[3]!) && (p[4] === "C" || p[4] === "P"))
    return "OPTION";
  return null;
}

function posNum(v: unknown): number | null {
  const n = typeof v === "number" ? v : typeof v === "string" && v.trim() !== "" ? Number(v) : NaN;
  return Number.isFinite(n) && n > 0 ? n : null;
}

function str(v: unknown): string {
  return typeof v === "string" ? v : "";
}

/** Base and quote currencies of an instrument family: from `uly`/`instFamily` ("BTC-USDT") or the instId's first two parts. */
function familyCcys(instId: string, uly: string): [string, string] {
  const src = uly.includes("-") ? uly : instId;
  const p = src.split("-");
  return [p[0] ?? "", p[1] ?? ""];
}

/**
 * Parse one element of OKX's `GET /api/v5/public/instruments` `data` array (all values are strings there).
 * Returns a reason string when the record is unusable, so the caller can say what was wrong rather than guess.
 */
export function parseOkxInstrument(raw: unknown): InstrumentSpec | string {
  if (typeof raw !== "object" || raw === null) return "instrument record is not an object";
  const r = raw as Record<string, unknown>;
  const instId = str(r.instId);
  const instType = str(r.instType) as InstType;
  if (!instId) return "instrument record without instId";
  if (!INST_TYPES.includes(instType)) return `${instId}: unknown instType ${JSON.stringify(r.instType)}`;
  const tickSz = posNum(r.tickSz);
  const lotSz = posNum(r.lotSz);
  const minSz = posNum(r.minSz);
  if (tickSz === null || lotSz === null || minSz === null)
    return `${instId}: tickSz/lotSz/minSz missing or not positive`;
  const [famBase, famQuote] = familyCcys(instId, str(r.uly) || str(r.instFamily));
  const limits = {
    state: STATES.includes(str(r.state)) ? (str(r.state) as InstrumentState) : undefined,
    maxMktSz: posNum(r.maxMktSz) ?? undefined,
    maxMktAmt: posNum(r.maxMktAmt) ?? undefined,
  };
  if (isSpotLike(instType)) {
    const baseCcy = str(r.baseCcy) || famBase;
    const quoteCcy = str(r.quoteCcy) || famQuote;
    return {
      instId,
      instType,
      ctVal: 1,
      ctMult: 1,
      ctType: "linear",
      tickSz,
      lotSz,
      minSz,
      baseCcy,
      quoteCcy,
      settleCcy: "",
      ctValCcy: baseCcy,
      ...limits,
    };
  }
  const ctVal = posNum(r.ctVal);
  const ctMult = posNum(r.ctMult) ?? 1;
  if (ctVal === null) return `${instId}: ctVal missing or not positive`;
  const ctTypeRaw = str(r.ctType);
  let ctType: CtType;
  if (ctTypeRaw === "inverse") ctType = "inverse";
  // OKX leaves ctType empty for options (premium-quoted, value in the coin); treat their contract as linear in ctValCcy.
  else if (ctTypeRaw === "linear" || (ctTypeRaw === "" && instType === "OPTION")) ctType = "linear";
  else return `${instId}: ctType ${JSON.stringify(ctTypeRaw)} is neither linear nor inverse`;
  const settleCcy = str(r.settleCcy) || (ctType === "inverse" ? famBase : famQuote);
  const ctValCcy = str(r.ctValCcy) || (ctType === "inverse" ? famQuote : famBase);
  return {
    instId,
    instType,
    ctVal,
    ctMult,
    ctType,
    tickSz,
    lotSz,
    minSz,
    baseCcy: str(r.baseCcy) || famBase,
    quoteCcy: str(r.quoteCcy) || famQuote,
    settleCcy,
    ctValCcy,
    ...limits,
  };
}

/** What the caller may send as `instrument` (shape-checked by the zod schema; values are checked here). */
export interface InstrumentInput {
  instType: InstType;
  ctVal?: number | string | undefined;
  ctMult?: number | string | undefined;
  ctType?: CtType | "" | undefined;
  tickSz: number | string;
  lotSz: number | string;
  minSz: number | string;
  maxMktSz?: number | string | undefined;
  maxMktAmt?: number | string | undefined;
  state?: InstrumentState | undefined;
  baseCcy?: string | undefined;
  quoteCcy?: string | undefined;
  settleCcy?: string | undefined;
  ctValCcy?: string | undefined;
}

/** One problem with a request's instrument object; `path` is relative to `instrument`. */
export interface InstrumentProblem {
  readonly path: string;
  readonly message: string;
}

const DECIMAL = /^(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/**
 * An OKX numeric field: a JSON number or a decimal string, finite and > 0. `undefined` and "" (OKX's "does not
 * apply") are "absent"; anything else is a problem, pushed onto `problems`.
 */
function inputNum(v: number | string | undefined, path: string, problems: InstrumentProblem[]): number | undefined {
  if (v === undefined || v === "") return undefined;
  const n = typeof v === "number" ? v : DECIMAL.test(v) ? Number(v) : NaN;
  if (Number.isFinite(n) && n > 0) return n;
  problems.push({
    path,
    message: `${path} must be a finite decimal > 0 (a number or a string as OKX sends it), got ${JSON.stringify(v)}`,
  });
  return undefined;
}

/**
 * Build a spec from the request's `instrument` object: an OKX instruments record verbatim (strings, "" for fields
 * that do not apply) or the same fields as numbers. Derivatives must state ctVal and ctType: defaulting them would
 * silently turn contracts into coins. Returns every problem found, not just the first.
 */
export function specFromInput(instId: string, i: InstrumentInput): InstrumentSpec | { problems: InstrumentProblem[] } {
  const problems: InstrumentProblem[] = [];
  const [famBase, famQuote] = familyCcys(instId, "");
  const tickSz = inputNum(i.tickSz, "tickSz", problems);
  const lotSz = inputNum(i.lotSz, "lotSz", problems);
  const minSz = inputNum(i.minSz, "minSz", problems);
  const ctVal = inputNum(i.ctVal, "ctVal", problems);
  const ctMult = inputNum(i.ctMult, "ctMult", problems);
  const maxMktSz = inputNum(i.maxMktSz, "maxMktSz", problems);
  const maxMktAmt = inputNum(i.maxMktAmt, "maxMktAmt", problems);
  for (const [k, v] of [
    ["tickSz", i.tickSz],
    ["lotSz", i.lotSz],
    ["minSz", i.minSz],
  ] as const) {
    if (v === "") problems.push({ path: k, message: `${k} is required (got "")` });
  }
  const ctType = i.ctType === "" ? undefined : i.ctType;
  const limits = { state: i.state, maxMktSz, maxMktAmt };
  if (isSpotLike(i.instType)) {
    if (ctType === "inverse") problems.push({ path: "ctType", message: "a spot/margin instrument cannot be inverse" });
    // Spot books are sized in the base currency; a contract value would silently rescale every size.
    if (ctVal !== undefined && ctVal !== 1)
      problems.push({
        path: "ctVal",
        message:
          'ctVal does not apply to spot/margin (book sizes are in the base currency); omit it or send "" as OKX does',
      });
    if (ctMult !== undefined && ctMult !== 1)
      problems.push({
        path: "ctMult",
        message: 'ctMult does not apply to spot/margin; omit it or send "" as OKX does',
      });
    if (problems.length > 0 || tickSz === undefined || lotSz === undefined || minSz === undefined) return { problems };
    const baseCcy = i.baseCcy || famBase;
    return {
      instId,
      instType: i.instType,
      ctVal: 1,
      ctMult: 1,
      ctType: "linear",
      tickSz,
      lotSz,
      minSz,
      baseCcy,
      quoteCcy: i.quoteCcy || famQuote,
      settleCcy: i.settleCcy ?? "",
      ctValCcy: baseCcy,
      ...limits,
    };
  }
  if (ctVal === undefined && !problems.some((p) => p.path === "ctVal")) {
    problems.push({
      path: "ctVal",
      message: `ctVal is required for ${i.instType} (e.g. 0.01 for BTC-USDT-SWAP, 100 for BTC-USD-SWAP)`,
    });
  }
  if (ctType === undefined)
    problems.push({ path: "ctType", message: `ctType (linear or inverse) is required for ${i.instType}` });
  if (
    problems.length > 0 ||
    ctVal === undefined ||
    ctType === undefined ||
    tickSz === undefined ||
    lotSz === undefined ||
    minSz === undefined
  )
    return { problems };
  const inverse = ctType === "inverse";
  return {
    instId,
    instType: i.instType,
    ctVal,
    ctMult: ctMult ?? 1,
    ctType,
    tickSz,
    lotSz,
    minSz,
    // OKX sends "" for the currencies that do not apply; fall back to the instrument family then.
    baseCcy: i.baseCcy || famBase,
    quoteCcy: i.quoteCcy || famQuote,
    settleCcy: i.settleCcy || (inverse ? famBase : famQuote),
    ctValCcy: i.ctValCcy || (inverse ? famQuote : famBase),
    ...limits,
  };
}

/** Outcome of interpreting an instruments response for one instId. */
export type InstrumentsAnswer =
  | { readonly kind: "found"; readonly spec: InstrumentSpec }
  | { readonly kind: "unknown"; readonly message: string }
  | { readonly kind: "error"; readonly message: string };

/** OKX error code for "Instrument ID does not exist". */
export const OKX_CODE_UNKNOWN_INSTRUMENT = "51001";

/**
 * Interpret a `GET /api/v5/public/instruments` JSON body (`{ code, msg, data }`) for `instId`.
 * OKX answers unknown instIds with code 51001 (or, for some instTypes, an empty `data`): both mean "unknown".
 */
export function parseInstrumentsResponse(body: unknown, instId: string): InstrumentsAnswer {
  if (typeof body !== "object" || body === null)
    return { kind: "error", message: "instruments response is not a JSON object" };
  const b = body as Record<string, unknown>;
  const code = String(b.code ?? "");
  if (code === OKX_CODE_UNKNOWN_INSTRUMENT)
    return { kind: "unknown", message: `OKX: ${str(b.msg) || "Instrument ID does not exist"}` };
  if (code !== "0") return { kind: "error", message: `OKX error ${code}: ${str(b.msg)}` };
  if (!Array.isArray(b.data)) return { kind: "error", message: "instruments response without data array" };
  const rec = b.data.find(
    (d) => typeof d === "object" && d !== null && (d as Record<string, unknown>).instId === instId,
  );
  if (rec === undefined) return { kind: "unknown", message: `OKX lists no instrument ${instId}` };
  const spec = parseOkxInstrument(rec);
  return typeof spec === "string" ? { kind: "error", message: spec } : { kind: "found", spec };
}

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export type InstrumentLookup =
  | { readonly ok: true; readonly spec: InstrumentSpec; readonly source: "okx_rest" | "cache" }
  | { readonly ok: false; readonly reason: "unknown" | "unavailable"; readonly message: string };

interface CacheEntry {
  readonly expires: number;
  readonly value: InstrumentLookup;
}

/** In-memory instrument cache (one per isolate by default); entries expire after their TTL. */
export class InstrumentCache {
  readonly #map = new Map<string, CacheEntry>();
  readonly #inflight = new Map<string, Promise<InstrumentLookup>>();
  /** Bound on entries so a stream of made-up instIds cannot grow memory without limit. */
  constructor(readonly maxEntries = 5000) {}

  get(key: string, now: number): InstrumentLookup | undefined {
    const e = this.#map.get(key);
    if (e === undefined) return undefined;
    if (e.expires <= now) {
      this.#map.delete(key);
      return undefined;
    }
    return e.value;
  }

  set(key: string, value: InstrumentLookup, expires: number): void {
    if (this.#map.size >= this.maxEntries) {
      // Drop the oldest insertion (Map iterates in insertion order): simple and bounded.
      const first = this.#map.keys().next();
      if (!first.done) this.#map.delete(first.value);
    }
    this.#map.set(key, { expires, value });
  }

  inflight(key: string): Promise<InstrumentLookup> | undefined {
    return this.#inflight.get(key);
  }

  track(key: string, p: Promise<InstrumentLookup>): void {
    this.#inflight.set(key, p);
    void p.finally(() => this.#inflight.delete(key));
  }

  clear(): void {
    this.#map.clear();
    this.#inflight.clear();
  }

  get size(): number {
    return this.#map.size;
  }
}

/** The isolate-wide cache used by the route. */
export const instrumentCache = new InstrumentCache();

export interface InstrumentFetchOptions {
  /** OKX REST base URL (env OKX_REST_URL), e.g. https://www.okx.com or the local exchange. */
  readonly baseUrl: string;
  /** Injectable for tests; defaults to the global fetch. */
  readonly fetch?: FetchLike;
  readonly cache?: InstrumentCache;
  /** Positive answers live this long (default 1 h: tick/lot sizes change rarely, and OKX announces it). */
  readonly ttlMs?: number;
  /** "Unknown instrument" answers live this long (default 60 s), so a listing appears soon after launch. */
  readonly negativeTtlMs?: number;
  /** Abort the upstream call after this long (default 3 s). */
  readonly timeoutMs?: number;
  readonly now?: () => number;
}

/** The REST URL queried for an instId (exported for tests and the local exchange). */
export function instrumentsUrl(baseUrl: string, instId: string): string | null {
  const instType = inferInstType(instId);
  if (instType === null) return null;
  const u = new URL("/api/v5/public/instruments", baseUrl);
  u.searchParams.set("instType", instType);
  // OKX requires uly (or instFamily) for options.
  if (instType === "OPTION") u.searchParams.set("uly", instId.split("-").slice(0, 2).join("-"));
  u.searchParams.set("instId", instId);
  return u.toString();
}

async function fetchOnce(instId: string, url: string, opts: InstrumentFetchOptions): Promise<InstrumentLookup> {
  const f: FetchLike = opts.fetch ?? ((u, i) => fetch(u, i));
  let res: Response;
  try {
    const init: RequestInit = { headers: { accept: "application/json" } };
    if (typeof AbortSignal !== "undefined" && typeof AbortSignal.timeout === "function")
      init.signal = AbortSignal.timeout(opts.timeoutMs ?? 3000);
    res = await f(url, init);
  } catch (e) {
    return {
      ok: false,
      reason: "unavailable",
      message: `instrument lookup at ${new URL(url).origin} failed: ${e instanceof Error ? e.message : String(e)}`,
    };
  }
  let body: unknown;
  try {
    body = await res.json();
  } catch {
    return {
      ok: false,
      reason: "unavailable",
      message: `instrument lookup returned HTTP ${res.status} with a non-JSON body`,
    };
  }
  // OKX reports "does not exist" with a non-zero code, sometimes on HTTP 200 and sometimes on 4xx: trust the body.
  const a = parseInstrumentsResponse(body, instId);
  if (a.kind === "found") return { ok: true, spec: a.spec, source: "okx_rest" };
  if (a.kind === "unknown") return { ok: false, reason: "unknown", message: a.message };
  return { ok: false, reason: "unavailable", message: `instrument lookup failed (HTTP ${res.status}): ${a.message}` };
}

/**
 * Resolve an instrument spec via OKX REST, through the cache. Never throws: network errors, timeouts and
 * malformed answers come back as `reason: "unavailable"` (not cached), unknown instIds as `reason: "unknown"`
 * (cached for `negativeTtlMs`).
 */
export async function fetchInstrument(instId: string, opts: InstrumentFetchOptions): Promise<InstrumentLookup> {
  const cache = opts.cache ?? instrumentCache;
  const now = opts.now ?? Date.now;
  const key = `${opts.baseUrl}|${instId}`;
  const hit = cache.get(key, now());
  if (hit !== undefined) return hit.ok ? { ok: true, spec: hit.spec, source: "cache" } : hit;
  const url = instrumentsUrl(opts.baseUrl, instId);
  if (url === null) {
    return {
      ok: false,
      reason: "unknown",
      message: `cannot tell the instType of ${instId} (expected e.g. BTC-USDT, BTC-USDT-SWAP, BTC-USD-250328)`,
    };
  }
  const pending = cache.inflight(key);
  if (pending !== undefined) {
    const r = await pending;
    return r.ok ? { ok: true, spec: r.spec, source: "cache" } : r;
  }
  const p = fetchOnce(instId, url, opts);
  cache.track(key, p);
  const r = await p;
  if (r.ok) cache.set(key, r, now() + (opts.ttlMs ?? 3_600_000));
  else if (r.reason === "unknown") cache.set(key, r, now() + (opts.negativeTtlMs ?? 60_000));
  return r;
}

/** A price limit from OKX REST (`GET /api/v5/public/price-limit`, docs-v5 "Get limit price"). */
export type PriceLimitLookup =
  | { readonly ok: true; readonly buyLmt: number | null; readonly sellLmt: number | null; readonly enabled: boolean }
  | { readonly ok: false; readonly message: string };

/** Parse one `data[0]` of the price-limit endpoint (or the request's `priceLimit`); "" limits mean "not in force". */
export function parsePriceLimit(rec: unknown): PriceLimitLookup {
  if (typeof rec !== "object" || rec === null) return { ok: false, message: "price-limit record is not an object" };
  const r = rec as Record<string, unknown>;
  const enabled = r.enabled !== false;
  const lim = (v: unknown): number | null | undefined => {
    if (v === "" || v === undefined) return null;
    const n = typeof v === "number" ? v : typeof v === "string" && DECIMAL.test(v) ? Number(v) : NaN;
    return Number.isFinite(n) && n > 0 ? n : undefined;
  };
  const buyLmt = lim(r.buyLmt);
  const sellLmt = lim(r.sellLmt);
  if (buyLmt === undefined || sellLmt === undefined)
    return {
      ok: false,
      message: `buyLmt/sellLmt must be decimals > 0 or "" (got ${JSON.stringify(r.buyLmt)}, ${JSON.stringify(r.sellLmt)})`,
    };
  if (buyLmt !== null && sellLmt !== null && sellLmt > buyLmt)
    return { ok: false, message: `sellLmt ${sellLmt} is above buyLmt ${buyLmt}` };
  return enabled ? { ok: true, buyLmt, sellLmt, enabled } : { ok: true, buyLmt: null, sellLmt: null, enabled };
}

const priceLimitCache = new Map<string, { expires: number; value: PriceLimitLookup }>();

/**
 * Fetch OKX's price limit for `instId` (cached 5 s: the band moves with the mark price). Never throws; a failure is
 * `{ ok: false }` with the reason (the route then simulates without a limit and says so).
 */
export async function fetchPriceLimit(
  instId: string,
  opts: Pick<InstrumentFetchOptions, "baseUrl" | "fetch" | "timeoutMs" | "now">,
): Promise<PriceLimitLookup> {
  const now = (opts.now ?? Date.now)();
  const key = `${opts.baseUrl}|${instId}`;
  const hit = priceLimitCache.get(key);
  if (hit !== undefined && hit.expires > now) return hit.value;
  const u = new URL("/api/v5/public/price-limit", opts.baseUrl);
  u.searchParams.set("instId", instId);
  const f: FetchLike = opts.fetch ?? ((x, i) => fetch(x, i));
  let value: PriceLimitLookup;
  try {
    const init: RequestInit = { headers: { accept: "application/json" } };
    if (typeof AbortSignal !== "undefined" && typeof AbortSignal.timeout === "function")
      init.signal = AbortSignal.timeout(opts.timeoutMs ?? 3000);
    const res = await f(u.toString(), init);
    const body = (await res.json()) as Record<string, unknown>;
    if (String(body.code) !== "0" || !Array.isArray(body.data) || body.data.length === 0) {
      value = {
        ok: false,
        message: `OKX price-limit answered code ${String(body.code)}${body.msg ? ` (${String(body.msg)})` : ""}`,
      };
    } else value = parsePriceLimit(body.data[0]);
  } catch (e) {
    value = { ok: false, message: `price-limit look-up failed: ${e instanceof Error ? e.message : String(e)}` };
  }
  if (value.ok) {
    if (priceLimitCache.size >= 5000) priceLimitCache.delete(priceLimitCache.keys().next().value!);
    priceLimitCache.set(key, { expires: now + 5000, value });
  }
  return value;
}

/** Forget cached price limits (tests). */
export function clearPriceLimitCache(): void {
  priceLimitCache.clear();
}
