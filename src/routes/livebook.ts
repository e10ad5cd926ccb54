/**
 * Gives POST /simulate/trade the relay's live book when a request omits `orderbook`: the book comes from the
 * instrument's Durable Object over RPC (top 400 levels). A relay only has a book while clients are subscribed,
 * so the simulator answers 503 otherwise (and says to send the book or subscribe first).
 *
 * For `latencyMs` on the live book it also gives the relay's recent book history (src/sim/history.ts) through the
 * RPC method `bookHistory()`. Until the relay has that method the call fails and the response says the history
 * could not be read; the fill itself is unaffected.
 */
import type { MiddlewareHandler } from "hono";
import type { Env } from "../env.js";
import type { BookHistorySnapshot } from "../sim/history.js";
import type { BookHistoryFn, LiveBookFn } from "../sim/simulate.js";
import { LIVE_BOOK_DEPTH } from "../sim/simulate.js";

/** The relay RPC this module needs beyond `liveBook` (added to InstrumentRelay by the relay's owner). */
interface HistoryRpc {
  bookHistory?: () => Promise<BookHistorySnapshot | null>;
}

export const liveBookProvider: MiddlewareHandler<{
  Bindings: Env;
  Variables: { liveBook?: LiveBookFn; bookHistory?: BookHistoryFn };
}> = async (c, next) => {
  const relay = (instId: string) => c.env.RELAY.get(c.env.RELAY.idFromName(instId));
  c.set("liveBook", (instId) => relay(instId).liveBook(LIVE_BOOK_DEPTH));
  c.set("bookHistory", async (instId) => {
    const stub = relay(instId) as unknown as HistoryRpc;
    if (typeof stub.bookHistory !== "function") throw new Error("the relay has no bookHistory() RPC");
    return stub.bookHistory();
  });
  await next();
};
