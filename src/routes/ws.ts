/**
 * WebSocket upgrades: `/ws/okx` (books) and `/ws/prediction` (forecasts). Validation happens here, BEFORE the
 * upgrade, so a bad request gets a clear 4xx JSON error instead of a socket that closes at once; the upgrade
 * itself is forwarded to the instrument's Durable Object (one per instId, named by it).
 */
import { Hono } from "hono";
import type { Env } from "../env.js";
import { apiError } from "../errors.js";
import { parseDepth, parseInstId } from "./params.js";

export const wsRoutes = new Hono<{ Bindings: Env }>();

function upgrade(kind: "book" | "prediction") {
  return async (c: import("hono").Context<{ Bindings: Env }>) => {
    if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
      apiError(426, "upgrade_required", "this endpoint is a WebSocket: connect with Upgrade: websocket");
    }
    const instId = parseInstId(c.req.query("instId"), c.env.ALLOWED_INSTRUMENTS);
    const depth = kind === "book" ? parseDepth(c.req.query("depth")) : 0;
    const stub = c.env.RELAY.get(c.env.RELAY.idFromName(instId));
    const url = new URL("https://relay/connect");
    url.searchParams.set("instId", instId);
    url.searchParams.set("kind", kind);
    url.searchParams.set("depth", String(depth));
    return stub.fetch(new Request(url, c.req.raw));
  };
}

wsRoutes.get("/ws/okx", upgrade("book"));
wsRoutes.get("/ws/prediction", upgrade("prediction"));
