/**
 * WebSocket upgrades: `/ws/okx` (books) and `/ws/prediction` (forecasts). Validation happens here, BEFORE the
 * upgrade, so a bad request gets a clear 4xx JSON error instead of a socket that closes at once; the upgrade
 * itself is forwarded to the instrument's Durable Object (one per instId, named by it), which accepts it or routes
 * it to one of its fan-out shards (src/relay/connect.ts).
 */
import { Hono } from "hono";
import type { Env } from "../env.js";
import { apiError } from "../errors.js";
import { connectClient } from "../relay/connect.js";
import { parseDepth, parseInstId } from "./params.js";

export const wsRoutes = new Hono<{ Bindings: Env }>();

/**
 * Longest upgrade URL accepted, in characters. A valid one is under 120 (`/ws/okx?instId=` + at most 64 + a depth);
 * anything this long is a mistake or abuse and is refused with 414 before the query is parsed (Cloudflare's edge
 * itself only refuses URLs beyond ~16 KB, and `wrangler dev` has no edge).
 */
const MAX_UPGRADE_URL = 2048;

function upgrade(kind: "book" | "prediction") {
  return async (c: import("hono").Context<{ Bindings: Env }>) => {
    if (c.req.url.length > MAX_UPGRADE_URL) {
      apiError(
        414,
        "uri_too_long",
        `the URL is ${c.req.url.length} characters; at most ${MAX_UPGRADE_URL} are accepted`,
      );
    }
    if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
      apiError(426, "upgrade_required", "this endpoint is a WebSocket: connect with Upgrade: websocket");
    }
    const instId = parseInstId(c.req.query("instId"), c.env.ALLOWED_INSTRUMENTS);
    const depth = kind === "book" ? parseDepth(c.req.query("depth")) : 0;
    return connectClient(c.env, instId, { instId, kind, depth }, c.req.raw);
  };
}

wsRoutes.get("/ws/okx", upgrade("book"));
wsRoutes.get("/ws/prediction", upgrade("prediction"));
