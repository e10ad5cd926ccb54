/**
 * Gives POST /simulate/trade the relay's live book when a request omits `orderbook`: the book comes from the
 * instrument's Durable Object over RPC (top 400 levels). A relay only has a book while clients are subscribed,
 * so the simulator answers 503 otherwise (and says to send the book or subscribe first).
 */
import type { MiddlewareHandler } from "hono";
import type { Env } from "../env.js";
import type { LiveBookFn } from "../sim/simulate.js";

export const liveBookProvider: MiddlewareHandler<{ Bindings: Env; Variables: { liveBook?: LiveBookFn } }> = async (c, next) => {
  c.set("liveBook", (instId) => c.env.RELAY.get(c.env.RELAY.idFromName(instId)).liveBook(400));
  await next();
};
