/**
 * Per-client-IP rate limits with Cloudflare's Workers Rate Limiting binding (wrangler.toml `[[ratelimits]]`):
 * `POST /simulate/trade` and the WebSocket upgrades each have their own namespace. Over the limit the answer is
 * the API's JSON error with status 429 and `Retry-After` (the binding reports no reset time, so it is the
 * limit's period: the longest a client can have to wait).
 *
 * Runtime facts: counts are per Cloudflare location and eventually consistent (a limit, not an exact quota);
 * `CF-Connecting-IP` is set by Cloudflare's edge and cannot be forged by the client there. Without that header
 * (local `wrangler dev` behind no edge) every request shares the key "local". `RATE_LIMIT=off` disables both
 * limits (the local load benchmarks open thousands of sockets from one address).
 */
import type { MiddlewareHandler } from "hono";
import type { Env } from "../env.js";
import { apiError } from "../errors.js";

/** The rate-limit bindings and the period each is configured with in wrangler.toml (seconds: 10 or 60). */
const LIMITERS = { SIMULATE_LIMITER: 60, UPGRADE_LIMITER: 60 } as const;

/** Middleware: 429 once the client IP is over `binding`'s limit. */
export function rateLimit(binding: keyof typeof LIMITERS, what: string): MiddlewareHandler<{ Bindings: Env }> {
  return async (c, next) => {
    const limiter = c.env.RATE_LIMIT === "off" ? undefined : c.env[binding];
    const key = c.req.header("cf-connecting-ip") ?? "local";
    if (limiter && !(await limiter.limit({ key })).success) {
      const retry = String(LIMITERS[binding]);
      apiError(429, "rate_limited", `too many ${what} from this address: retry in ${retry} s`, undefined, {
        "Retry-After": retry,
      });
    }
    await next();
  };
}
