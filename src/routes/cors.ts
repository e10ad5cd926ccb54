/**
 * Cross-origin policy. TradeSim's HTTP API is public, credential-less (no cookies, no auth) and stateless, so by
 * default any origin may call it (`CORS_ORIGINS` unset or "*"). Set `CORS_ORIGINS` to a comma-separated list of
 * origins to restrict both the HTTP API (CORS headers) and the WebSocket endpoints (the browser's Origin header is
 * checked before the upgrade: CORS does not apply to WebSockets, so this is the cross-site WebSocket guard).
 */
import type { MiddlewareHandler } from "hono";
import { cors } from "hono/cors";
import type { Env } from "../env.js";
import { apiError } from "../errors.js";

/** Allowed origins from the env, or "*" for any. */
export function allowedOrigins(env: Pick<Env, "CORS_ORIGINS">): "*" | string[] {
  const raw = env.CORS_ORIGINS?.trim();
  if (!raw || raw === "*") return "*";
  return raw
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

/** CORS middleware for the HTTP API routes. */
export const apiCors: MiddlewareHandler<{ Bindings: Env }> = (c, next) => {
  const allowed = allowedOrigins(c.env);
  return cors({
    origin: allowed === "*" ? "*" : (origin) => (allowed.includes(origin) ? origin : null),
    allowMethods: ["GET", "POST", "OPTIONS"],
    allowHeaders: ["Content-Type"],
    maxAge: 600,
  })(c, next);
};

/** WebSocket origin guard: a browser page from a non-allowed origin gets 403 before the upgrade. */
export const wsOriginGuard: MiddlewareHandler<{ Bindings: Env }> = async (c, next) => {
  const allowed = allowedOrigins(c.env);
  const origin = c.req.header("origin");
  if (allowed !== "*" && origin !== undefined && !allowed.includes(origin)) {
    apiError(403, "origin_not_allowed", `origin ${origin} may not open TradeSim WebSockets`);
  }
  await next();
};
