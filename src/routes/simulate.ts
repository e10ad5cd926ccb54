/**
 * `POST /simulate/trade` (market-order execution simulator). Its OpenAPI definition (generated from the same zod
 * schemas) is merged into `GET /openapi.json` by src/routes/docs.ts.
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
import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { apiError, notFound, onError } from "../errors.js";
import type { BookHistorySnapshot } from "../sim/history.js";
import {
  fetchInstrument,
  fetchPriceLimit,
  inferInstType,
  isSpotLike,
  parsePriceLimit,
  specFromInput,
  type FetchLike,
  type InstrumentSpec,
} from "../sim/instruments.js";
import {
  ErrorSchema,
  MAX_BODY_BYTES,
  MAX_LEVELS_PER_SIDE,
  SimulateRequestSchema,
  SimulateResponseSchema,
} from "../sim/schema.js";
import {
  simulateTrade,
  type BookHistoryFn,
  type LiveBook,
  type LiveBookFn,
  type PriceLimit,
  type Problem,
  type SimError,
} from "../sim/simulate.js";

/** Bindings this sub-app reads (all optional; the Worker's Env provides OKX_REST_URL). */
export interface SimulateBindings {
  /** OKX REST base URL for instrument specs (production https://www.okx.com; the local exchange offline). */
  OKX_REST_URL?: string;
  /** Override of fetch for the instruments call (tests). */
  SIM_FETCH?: FetchLike;
  /** Live-book provider as a binding (tests; the relay may set the `liveBook` variable instead). */
  SIM_LIVE_BOOK?: LiveBookFn;
  /** Book-history provider as a binding (tests; the mounting app sets the `bookHistory` variable instead). */
  SIM_BOOK_HISTORY?: BookHistoryFn;
}

/** Context variables this sub-app reads. */
export interface SimulateVariables {
  liveBook?: LiveBookFn;
  bookHistory?: BookHistoryFn;
}

type SimulateEnv = { Bindings: SimulateBindings; Variables: SimulateVariables };

const DEFAULT_OKX_REST_URL = "https://www.okx.com";

/** 415 unless the body is declared as JSON (checked before reading a byte of it). */
const requireJson: MiddlewareHandler = async (c, next) => {
  const ct = c.req.header("content-type") ?? "";
  if (!/^application\/json\s*(;|$)/i.test(ct)) {
    apiError(
      415,
      "unsupported_media_type",
      `send the body as JSON with "Content-Type: application/json" (got ${ct ? JSON.stringify(ct.slice(0, 80)) : "no Content-Type"})`,
    );
  }
  await next();
};

/** 413 past 1 MiB, counted on the stream when there is no Content-Length. */
const limitBody = bodyLimit({
  maxSize: MAX_BODY_BYTES,
  onError: () =>
    apiError(
      413,
      "body_too_large",
      `request body exceeds ${MAX_BODY_BYTES} bytes (1 MiB); send at most ${MAX_LEVELS_PER_SIDE} levels per side, e.g. OKX's 400-level book`,
    ),
});

/** Read and parse the body once, with our own 400s. */
async function readJson(req: Request): Promise<unknown> {
  const text = await req.text();
  if (text.trim() === "") apiError(400, "invalid_json", "request body is empty; send a JSON object (see GET /docs)");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    apiError(400, "invalid_json", `request body is not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value))
    apiError(400, "invalid_json", "request body must be a JSON object (see GET /docs)");
  return value;
}

/** `["orderbook", "bids", 3, 1]` -> `orderbook.bids[3][1]`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const k of path) {
    if (typeof k === "number") out += `[${k}]`;
    else out += out === "" ? String(k) : `.${String(k)}`;
  }
  return out;
}

/** Throw the API error body, with `okxCode` and every problem when there are several. */
function simError(status: ContentfulStatusCode, e: Omit<SimError, "status">): never {
  const error: Record<string, unknown> = { code: e.code, message: e.message };
  if (e.path !== undefined) error.path = e.path;
  if (e.okxCode !== undefined) error.okxCode = e.okxCode;
  if (e.problems !== undefined && e.problems.length > 1) error.problems = e.problems;
  throw new HTTPException(status, { res: Response.json({ error }, { status }) });
}

/** One zod issue as a problem (path + a message that says what to fix). */
function issueProblem(issue: z.ZodError["issues"][number]): Problem {
  let path = formatPath(issue.path);
  let message = issue.message;
  if (issue.code === "unrecognized_keys") {
    const keys = (issue as { keys?: string[] }).keys ?? [];
    message = `unknown field${keys.length > 1 ? "s" : ""} ${keys.map((k) => JSON.stringify(k)).join(", ")}${path ? ` in ${path}` : ""}; see GET /openapi.json for the accepted fields (OKX's own instrument and book fields are accepted)`;
    if (keys.length === 1) path = path ? `${path}.${keys[0]}` : keys[0]!;
  } else if (issue.code === "invalid_type" && /received undefined/.test(issue.message)) {
    message = `${path} is required`;
  } else if (
    path &&
    !message.startsWith(path) &&
    !(
      typeof issue.path[issue.path.length - 1] === "string" &&
      message.startsWith(String(issue.path[issue.path.length - 1]))
    )
  ) {
    // Prefix the field unless the message already names it (our own messages do).
    message = `${path}: ${message}`;
  }
  return path ? { code: "invalid_request", message, path } : { code: "invalid_request", message };
}

/** Every zod issue as the project's 400: the first in code/message/path, all of them in `problems`. */
function validationError(error: z.ZodError): never {
  const problems = error.issues.map(issueProblem);
  const first = problems[0]!;
  const message =
    problems.length > 1
      ? `${first.message} (and ${problems.length - 1} more problem${problems.length > 2 ? "s" : ""}, listed in problems)`
      : first.message;
  simError(400, { code: "invalid_request", message, path: first.path, problems });
}

const errorResponse = (description: string) => ({
  description,
  content: { "application/json": { schema: ErrorSchema } },
});

const route = createRoute({
  method: "post",
  path: "/simulate/trade",
  operationId: "simulateTrade",
  tags: ["Simulation"],
  summary: "Simulate a market order against an OKX order book",
  description:
    "Walks the book level by level in OKX's native units (contracts for SWAP/FUTURES, base currency for SPOT), rounds the size down to lotSz, checks minSz, and returns the fill (VWAP, best/mid/worst, levels), slippage vs mid and best, the taker fee in the currency OKX charges it, walk-the-book impact plus a square-root-law pre-trade estimate, and the net cost. Stateless: the request carries the book; omit `orderbook` to use the relay's live book.",
  request: { body: { required: true, content: { "application/json": { schema: SimulateRequestSchema } } } },
  responses: {
    200: {
      description: "Simulated fill and costs.",
      content: { "application/json": { schema: SimulateResponseSchema } },
    },
    400: errorResponse(
      "Invalid JSON, schema violation, or an invalid book (NaN/zero/negative values, unsorted, duplicate prices, crossed); every problem is listed in `problems`.",
    ),
    413: errorResponse("Body larger than 1 MiB."),
    415: errorResponse("Content-Type is not application/json."),
    422: errorResponse(
      "Well-formed but refused: what OKX would reject (with its sCode in `okxCode`: lot size 51121, minSz 51020, maxMktSz 51202, maxMktAmt 51201, price limit 51006, state 51021/51022), nothing to fill (fok/ioc), unknown instrument, empty book side, options.",
    ),
    429: errorResponse(
      "Too many simulations from this address (the Worker's per-IP limit, src/routes/limits.ts); retry after the `Retry-After` seconds.",
    ),
    424: errorResponse("The instrument spec could not be fetched from OKX (send `instrument` to skip the look-up)."),
    503: errorResponse("`orderbook` omitted and no live book is available for the instrument."),
  },
});

/** The sub-app; mount with `app.route("/", simulateRoutes)`. */
export const simulateRoutes = new OpenAPIHono<SimulateEnv>();

simulateRoutes.onError(onError);
simulateRoutes.notFound(notFound);

// The route is registered for the OpenAPI document, and served by a plain handler that validates synchronously:
// @hono/zod-openapi's validator runs zod's async parse on a second copy of the body (measured: a third of the
// route's in-process time on a 25-level book, see docs/simulate.md "Performance").
simulateRoutes.openAPIRegistry.registerPath(route);

simulateRoutes.post(route.path, requireJson, limitBody, async (c) => {
  const parsed = SimulateRequestSchema.safeParse(await readJson(c.req.raw));
  if (!parsed.success) validationError(parsed.error);
  const req = parsed.data;
  const env: SimulateBindings = c.env ?? {};
  const baseUrl = env.OKX_REST_URL || DEFAULT_OKX_REST_URL;

  // Instrument: from the request, else OKX REST (cached).
  let instrument: InstrumentSpec;
  let instrumentSource: "request" | "okx_rest" | "cache";
  if (req.instrument !== undefined) {
    const spec = specFromInput(req.instId, req.instrument);
    const inferred = inferInstType(req.instId);
    const problems: Problem[] =
      "problems" in spec
        ? spec.problems.map((p) => ({
            code: "invalid_instrument" as const,
            message: `instrument.${p.message}`,
            path: `instrument.${p.path}`,
          }))
        : [];
    const t = req.instrument.instType;
    if (inferred !== null && inferred !== t && !(isSpotLike(inferred) && isSpotLike(t))) {
      problems.push({
        code: "instrument_mismatch",
        message: `instrument.instType ${t} does not match instId ${req.instId} (a ${inferred} id)`,
        path: "instrument.instType",
      });
    }
    if (typeof req.instrument.instId === "string" && req.instrument.instId !== req.instId) {
      problems.push({
        code: "instrument_mismatch",
        message: `instrument.instId ${req.instrument.instId} is not the request's instId ${req.instId}`,
        path: "instrument.instId",
      });
    }
    if (problems.length > 0 || "problems" in spec) {
      const first = problems[0]!;
      simError(400, {
        code: first.code,
        message:
          problems.length > 1
            ? `${first.message} (and ${problems.length - 1} more, listed in problems)`
            : first.message,
        path: first.path,
        problems,
      });
    }
    instrument = spec;
    instrumentSource = "request";
  } else {
    const r = await fetchInstrument(req.instId, { baseUrl, fetch: env.SIM_FETCH });
    if (!r.ok) {
      if (r.reason === "unknown") {
        apiError(
          422,
          "unknown_instrument",
          `${r.message.replace(/\.+$/, "")}. Check instId, or send "instrument" ({instType, ctVal, ctType, tickSz, lotSz, minSz}) to simulate it anyway`,
          "instId",
        );
      }
      apiError(
        424,
        "instrument_lookup_failed",
        `${r.message.replace(/\.+$/, "")}. Retry, or send "instrument" ({instType, ctVal, ctType, tickSz, lotSz, minSz}) to skip the look-up`,
        "instrument",
      );
    }
    instrument = r.spec;
    instrumentSource = r.source;
  }

  // Price limit: from the request, else (when the spec came from OKX REST too) from OKX's price-limit endpoint.
  let priceLimit: PriceLimit | undefined;
  let priceLimitNote: string | undefined;
  if (req.priceLimit !== undefined) {
    const p = parsePriceLimit(req.priceLimit);
    if (!p.ok) apiError(400, "invalid_price", `priceLimit: ${p.message}`, "priceLimit");
    priceLimit = { buyLmt: p.buyLmt, sellLmt: p.sellLmt, source: "request" };
    if (!p.enabled) priceLimitNote = "priceLimit.enabled is false: no limit applied";
  } else if (req.instrument === undefined) {
    const p = await fetchPriceLimit(req.instId, { baseUrl, fetch: env.SIM_FETCH });
    if (p.ok) {
      priceLimit = { buyLmt: p.buyLmt, sellLmt: p.sellLmt, source: "okx_rest" };
      if (!p.enabled) priceLimitNote = "OKX reports the price limit as not in force (enabled: false)";
    } else priceLimitNote = `no price limit applied: ${p.message}`;
  } else {
    priceLimitNote =
      "no price limit applied: send priceLimit (OKX GET /api/v5/public/price-limit data[0]) or omit instrument to fetch it from OKX";
  }

  // Live book (and its recent history), only when the request carries no book.
  let liveBook: LiveBook | undefined;
  let history: BookHistorySnapshot | undefined;
  let historyMissing: string | undefined;
  if (req.orderbook === undefined) {
    const provider = c.get("liveBook") ?? env.SIM_LIVE_BOOK;
    if (provider === undefined)
      apiError(
        503,
        "live_book_unavailable",
        `no live-book source is configured on this server; send the book in "orderbook"`,
        "orderbook",
      );
    let got: LiveBook | null;
    try {
      got = await provider(req.instId);
    } catch (e) {
      apiError(
        503,
        "live_book_unavailable",
        `the live book for ${req.instId} could not be read (${e instanceof Error ? e.message : String(e)}); retry, or send "orderbook"`,
        "orderbook",
      );
    }
    if (got === null || got === undefined)
      apiError(
        503,
        "live_book_unavailable",
        `no live book for ${req.instId} right now (not subscribed or resyncing); retry, or send "orderbook"`,
        "orderbook",
      );
    liveBook = got;
    if (req.latencyMs !== undefined) {
      const hp = c.get("bookHistory") ?? env.SIM_BOOK_HISTORY;
      if (hp === undefined) historyMissing = "this server has no book-history source";
      else {
        try {
          history = (await hp(req.instId)) ?? undefined;
          if (history === undefined) historyMissing = `the relay has no book history for ${req.instId} yet`;
        } catch (e) {
          historyMissing = `the relay's book history could not be read (${e instanceof Error ? e.message : String(e)})`;
        }
      }
    }
  }

  const out = simulateTrade({
    request: req,
    instrument,
    instrumentSource,
    liveBook,
    history,
    historyMissing,
    priceLimit,
    priceLimitNote,
    nowMs: Date.now(),
  });
  if (!out.ok) simError(out.error.status, out.error);
  return c.json(out.response, 200);
});
