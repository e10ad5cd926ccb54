/**
 * `POST /simulate/trade` (market-order execution simulator), `GET /openapi.json` (generated from the same zod
 * schemas) and `GET /docs` (Swagger UI over it).
 *
 * The route does the I/O and the gatekeeping; the math is the pure engine in src/sim. Order of checks, cheapest
 * first: Content-Type (415), body size (413, 1 MiB), JSON syntax (400), schema (400 with the field's path), then
 * instrument resolution (422 unknown / 424 look-up failed), then the engine's own checks (400/422) and the live
 * book (503). Every error body is the project's `{ error: { code, message, path? } }` via src/errors.ts.
 *
 * Injection points (tests, and the relay once it provides live books):
 * - `liveBook`: a `LiveBookFn` set as context variable `liveBook` by a middleware of the mounting app, or the
 *   binding `SIM_LIVE_BOOK`; without one, requests that omit `orderbook` get 503.
 * - `SIM_FETCH`: fetch used for the instruments REST call (default: global fetch); base URL from `OKX_REST_URL`.
 */
import { createRoute, OpenAPIHono, type z } from "@hono/zod-openapi";
import { swaggerUI } from "@hono/swagger-ui";
import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { apiError, notFound, onError } from "../errors.js";
import { fetchInstrument, inferInstType, isSpotLike, specFromInput, type FetchLike, type InstrumentSpec } from "../sim/instruments.js";
import { ErrorSchema, MAX_BODY_BYTES, MAX_LEVELS_PER_SIDE, SimulateRequestSchema, SimulateResponseSchema } from "../sim/schema.js";
import { simulateTrade, type LiveBook, type LiveBookFn } from "../sim/simulate.js";

/** Bindings this sub-app reads (all optional; the Worker's Env provides OKX_REST_URL). */
export interface SimulateBindings {
  /** OKX REST base URL for instrument specs (production https://www.okx.com; the local exchange offline). */
  OKX_REST_URL?: string;
  /** Override of fetch for the instruments call (tests). */
  SIM_FETCH?: FetchLike;
  /** Live-book provider as a binding (tests; the relay may set the `liveBook` variable instead). */
  SIM_LIVE_BOOK?: LiveBookFn;
}

/** Context variables this sub-app reads. */
export interface SimulateVariables {
  liveBook?: LiveBookFn;
}

type SimulateEnv = { Bindings: SimulateBindings; Variables: SimulateVariables };

const DEFAULT_OKX_REST_URL = "https://www.okx.com";

/** 415 unless the body is declared as JSON (checked before reading a byte of it). */
const requireJson: MiddlewareHandler = async (c, next) => {
  const ct = c.req.header("content-type") ?? "";
  if (!/^application\/json\s*(;|$)/i.test(ct)) {
    apiError(415, "unsupported_media_type", `send the body as JSON with "Content-Type: application/json" (got ${ct ? JSON.stringify(ct.slice(0, 80)) : "no Content-Type"})`);
  }
  await next();
};

/** 413 past 1 MiB, counted on the stream when there is no Content-Length. */
const limitBody = bodyLimit({
  maxSize: MAX_BODY_BYTES,
  onError: () =>
    apiError(413, "body_too_large", `request body exceeds ${MAX_BODY_BYTES} bytes (1 MiB); send at most ${MAX_LEVELS_PER_SIDE} levels per side, e.g. OKX's 400-level book`),
});

/** Parse the JSON once, with our own 400, and hand the value to the zod validator through Hono's body cache. */
const parseJson: MiddlewareHandler = async (c, next) => {
  const text = await c.req.text();
  if (text.trim() === "") apiError(400, "invalid_json", "request body is empty; send a JSON object (see GET /docs)");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    apiError(400, "invalid_json", `request body is not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) apiError(400, "invalid_json", "request body must be a JSON object (see GET /docs)");
  c.req.bodyCache.json = Promise.resolve(value);
  await next();
};

/** `["orderbook", "bids", 3, 1]` -> `orderbook.bids[3][1]`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const k of path) {
    if (typeof k === "number") out += `[${k}]`;
    else out += out === "" ? String(k) : `.${String(k)}`;
  }
  return out;
}

/** Turn the first zod issue into the project's 400 (path + a message that says what to fix). */
function validationError(error: z.ZodError): never {
  const issues = error.issues;
  const first = issues[0]!;
  let path = formatPath(first.path);
  let message = first.message;
  if (first.code === "unrecognized_keys") {
    const keys = (first as { keys?: string[] }).keys ?? [];
    message = `unknown field${keys.length > 1 ? "s" : ""} ${keys.map((k) => JSON.stringify(k)).join(", ")}${path ? ` in ${path}` : ""}; see GET /openapi.json for the accepted fields`;
    if (keys.length === 1) path = path ? `${path}.${keys[0]}` : keys[0]!;
  } else if (first.code === "invalid_type" && /received undefined/.test(first.message)) {
    message = `${path} is required`;
  } else if (path && !message.startsWith(path) && !(typeof first.path[first.path.length - 1] === "string" && message.startsWith(String(first.path[first.path.length - 1])))) {
    // Prefix the field unless the message already names it (our own messages do).
    message = `${path}: ${message}`;
  }
  if (issues.length > 1) message += ` (and ${issues.length - 1} more problem${issues.length > 2 ? "s" : ""})`;
  apiError(400, "invalid_request", message, path || undefined);
}

const errorResponse = (description: string) => ({ description, content: { "application/json": { schema: ErrorSchema } } });

const route = createRoute({
  method: "post",
  path: "/simulate/trade",
  summary: "Simulate a market order against an OKX order book",
  description:
    "Walks the book level by level in OKX's native units (contracts for SWAP/FUTURES, base currency for SPOT), rounds the size down to lotSz, checks minSz, and returns the fill (VWAP, best/mid/worst, levels), slippage vs mid and best, the taker fee in the currency OKX charges it, walk-the-book impact plus a square-root-law pre-trade estimate, and the net cost. Stateless: the request carries the book; omit `orderbook` to use the relay's live book.",
  middleware: [requireJson, limitBody, parseJson] as const,
  request: { body: { required: true, content: { "application/json": { schema: SimulateRequestSchema } } } },
  responses: {
    200: { description: "Simulated fill and costs.", content: { "application/json": { schema: SimulateResponseSchema } } },
    400: errorResponse("Invalid JSON, schema violation, or an invalid book (NaN/zero/negative values, unsorted, duplicate prices, crossed)."),
    413: errorResponse("Body larger than 1 MiB."),
    415: errorResponse("Content-Type is not application/json."),
    422: errorResponse("Well-formed but not simulable: size below minSz or one lot, unknown instrument, empty book side, options."),
    424: errorResponse("The instrument spec could not be fetched from OKX (send `instrument` to skip the look-up)."),
    503: errorResponse("`orderbook` omitted and no live book is available for the instrument."),
  },
});

/** The sub-app; mount with `app.route("/", simulateRoutes)`. */
export const simulateRoutes = new OpenAPIHono<SimulateEnv>({
  defaultHook: (result) => {
    if (!result.success) validationError(result.error);
  },
});

simulateRoutes.onError(onError);
simulateRoutes.notFound(notFound);

simulateRoutes.openapi(route, async (c) => {
  const req = c.req.valid("json");
  const env: SimulateBindings = c.env ?? {};

  // Instrument: from the request, else OKX REST (cached).
  let instrument: InstrumentSpec;
  let instrumentSource: "request" | "okx_rest" | "cache";
  if (req.instrument !== undefined) {
    const spec = specFromInput(req.instId, req.instrument);
    if ("error" in spec) apiError(400, "invalid_instrument", spec.error, `instrument.${spec.path}`);
    const inferred = inferInstType(req.instId);
    if (inferred !== null && inferred !== spec.instType && !(isSpotLike(inferred) && isSpotLike(spec.instType))) {
      apiError(400, "instrument_mismatch", `instrument.instType ${spec.instType} does not match instId ${req.instId} (a ${inferred} id)`, "instrument.instType");
    }
    instrument = spec;
    instrumentSource = "request";
  } else {
    const r = await fetchInstrument(req.instId, { baseUrl: env.OKX_REST_URL || DEFAULT_OKX_REST_URL, fetch: env.SIM_FETCH });
    if (!r.ok) {
      if (r.reason === "unknown") {
        apiError(422, "unknown_instrument", `${r.message.replace(/\.+$/, "")}. Check instId, or send "instrument" ({instType, ctVal, ctType, tickSz, lotSz, minSz}) to simulate it anyway`, "instId");
      }
      apiError(424, "instrument_lookup_failed", `${r.message.replace(/\.+$/, "")}. Retry, or send "instrument" ({instType, ctVal, ctType, tickSz, lotSz, minSz}) to skip the look-up`, "instrument");
    }
    instrument = r.spec;
    instrumentSource = r.source;
  }

  // Live book, only when the request carries none.
  let liveBook: LiveBook | undefined;
  if (req.orderbook === undefined) {
    const provider = c.get("liveBook") ?? env.SIM_LIVE_BOOK;
    if (provider === undefined) apiError(503, "live_book_unavailable", `no live-book source is configured on this server; send the book in "orderbook"`, "orderbook");
    let got: LiveBook | null;
    try {
      got = await provider(req.instId);
    } catch (e) {
      apiError(503, "live_book_unavailable", `the live book for ${req.instId} could not be read (${e instanceof Error ? e.message : String(e)}); retry, or send "orderbook"`, "orderbook");
    }
    if (got === null || got === undefined) apiError(503, "live_book_unavailable", `no live book for ${req.instId} right now (not subscribed or resyncing); retry, or send "orderbook"`, "orderbook");
    liveBook = got;
  }

  const out = simulateTrade({ request: req, instrument, instrumentSource, liveBook, nowMs: Date.now() });
  if (!out.ok) apiError(out.error.status, out.error.code, out.error.message, out.error.path);
  return c.json(out.response, 200);
});

simulateRoutes.doc("/openapi.json", {
  openapi: "3.0.0",
  info: {
    title: "TradeSim execution simulator",
    version: "0.1.0",
    description:
      "Market-order execution simulation on OKX order books: contracts-aware fills, OKX fee tiers, walk-the-book impact and a square-root-law estimate on a 24/7 clock. Errors are `{ error: { code, message, path } }`.",
  },
});

simulateRoutes.get("/docs", swaggerUI({ url: "/openapi.json", title: "TradeSim simulator API" }));
