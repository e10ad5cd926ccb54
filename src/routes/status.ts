/** `GET /health` (liveness) and `GET /status` (per-instrument relay state and counters). */
import { Hono } from "hono";
import type { Env } from "../env.js";
import type { RelayStats } from "../relay/relay.js";
import { parseInstId } from "./params.js";

export const statusRoutes = new Hono<{ Bindings: Env }>();

statusRoutes.get("/health", (c) => c.json({ ok: true, service: "tradesim", time: new Date().toISOString() }));

/** Stats of one relay (from its Durable Object). */
async function relayStats(env: Env, instId: string): Promise<RelayStats> {
  const stub = env.RELAY.get(env.RELAY.idFromName(instId));
  const res = await stub.fetch("https://relay/stats");
  return (await res.json()) as RelayStats;
}

statusRoutes.get("/status", async (c) => {
  const q = c.req.query("instId");
  let ids: string[];
  if (q !== undefined) {
    ids = q.split(",").map((s) => parseInstId(s.trim(), c.env.ALLOWED_INSTRUMENTS));
  } else {
    const dir = c.env.DIRECTORY.get(c.env.DIRECTORY.idFromName("global"));
    ids = (await dir.list()).map((e) => e.instId);
  }
  const instruments = await Promise.all(ids.slice(0, 100).map((id) => relayStats(c.env, id)));
  return c.json({ upstream: c.env.OKX_WS_URL, instruments });
});
