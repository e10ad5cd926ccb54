/**
 * One error path for the whole API (Hono's HTTPException + app.onError): every 4xx/5xx body is
 * `{ error: { code, message, path? } }`, never a stack trace or an internal message.
 */
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";

export interface ErrorBody {
  error: {
    /** Stable machine-readable code, e.g. `invalid_instId`, `body_too_large`. */
    code: string;
    /** What is wrong and how to fix it. */
    message: string;
    /** JSON path of the offending field, when there is one (e.g. `orderbook.bids[3][1]`). */
    path?: string;
  };
}

/** Throw a 4xx with the API's JSON error body (and optional extra headers, e.g. `Retry-After`). */
export function apiError(
  status: ContentfulStatusCode,
  code: string,
  message: string,
  path?: string,
  headers?: Record<string, string>,
): never {
  const body: ErrorBody = { error: path === undefined ? { code, message } : { code, message, path } };
  throw new HTTPException(status, { res: Response.json(body, { status, ...(headers && { headers }) }) });
}

/** app.onError: HTTPExceptions become their response; anything else is logged and answered with a bare 500. */
export function onError(err: Error, c: Context): Response {
  if (err instanceof HTTPException) {
    const res = err.getResponse();
    if (res.headers.get("content-type")?.includes("application/json")) return res;
    const status = err.status;
    return c.json(
      { error: { code: `http_${status}`, message: err.message || "request failed" } } satisfies ErrorBody,
      status,
    );
  }
  console.error("unhandled error", c.req.method, c.req.path, err);
  return c.json({ error: { code: "internal", message: "internal error" } } satisfies ErrorBody, 500);
}

/** app.notFound: the same JSON shape for unknown routes. */
export function notFound(c: Context): Response {
  return c.json(
    { error: { code: "not_found", message: `no route for ${c.req.method} ${c.req.path}` } } satisfies ErrorBody,
    404,
  );
}
