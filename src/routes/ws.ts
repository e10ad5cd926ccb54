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

function upgrade(kind: "book" | "prediction") {
  return async (c: import("hono").Context<{ Bindings: Env }>) => {
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
