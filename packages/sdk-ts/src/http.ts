/**
 * The HTTP half of the API, typed from the zod schemas that validate it on the server (src/sim/schema.ts, the
 * same schemas /openapi.json is generated from): the request type is the schema's input (OKX-style strings
 * accepted), the response type its output.
 */
import type { z } from "zod";
import type { ErrorBody } from "../../../src/errors.js";
import type { SimulateRequestSchema, SimulateResponse } from "../../../src/sim/schema.js";

/** Body of `POST /simulate/trade`. */
export type SimulateTradeRequest = z.input<typeof SimulateRequestSchema>;
export type { SimulateResponse };

/** A non-2xx answer of the API: `{ error: { code, message, path? } }` with its HTTP status. */
export class TradeSimApiError extends Error {
  override readonly name = "TradeSimApiError";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** JSON path of the offending field, e.g. `orderbook.bids[3][1]`. */
    readonly path?: string,
  ) {
    super(message);
  }
}

/** POST a JSON body, parse the JSON answer; non-2xx -> TradeSimApiError (also for a non-JSON body, e.g. a proxy's). */
export async function postJson<T>(f: typeof fetch, url: string, body: unknown, signal?: AbortSignal): Promise<T> {
  const res = await f(url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify(body),
    ...(signal !== undefined && { signal }),
  });
  const text = await res.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON: reported below when the status is an error
  }
  if (!res.ok) {
    const err = (json as Partial<ErrorBody> | null)?.error;
    if (err && typeof err.code === "string" && typeof err.message === "string")
      throw new TradeSimApiError(res.status, err.code, err.message, err.path);
    throw new TradeSimApiError(
      res.status,
      `http_${res.status}`,
      `HTTP ${res.status}: ${text.slice(0, 200) || res.statusText}`,
    );
  }
  if (json === null)
    throw new TradeSimApiError(
      res.status,
      "invalid_response",
      `expected a JSON body, got ${JSON.stringify(text.slice(0, 80))}`,
    );
  return json as T;
}
