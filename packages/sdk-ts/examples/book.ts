/// <reference types="node" />
/**
 * Watch a verified order book, then simulate a market buy on it.
 *
 *   npm start                                   # the local exchange + the Worker on :8787 (another terminal)
 *   npx tsx packages/sdk-ts/examples/book.ts [BASE_URL] [INST_ID] [SECONDS]
 *
 * Defaults: http://127.0.0.1:8787, BTC-USDT-SWAP, 5 s. Prints the best bid/ask of every verified book with its
 * age, every state change and any checksum mismatch, then the fill of a 1-contract market buy on the last book.
 */
import { TradeSimApiError, TradeSimClient } from "../src/index.js";

const [baseUrl = "http://127.0.0.1:8787", instId = "BTC-USDT-SWAP", seconds = "5"] = process.argv.slice(2);
const ts = new TradeSimClient({ baseUrl });
const book = ts.subscribeBook(instId, { depth: 5, staleAfterMs: 2_000 });

book.on("state", (s) => console.log(`state ${s.state}${s.reason ? ` (${s.reason})` : ""}`));
book.on("book", (b) => {
  const [bid, ask] = [b.bids[0], b.asks[0]];
  console.log(
    `seq ${b.seq} bid ${bid?.[0]} x ${bid?.[1]}  ask ${ask?.[0]} x ${ask?.[1]}  age ${book.ageMs()} ms  crc ok`,
  );
});
book.on("mismatch", (m) =>
  console.warn(`checksum mismatch (${m.source}) seq ${m.seq}: expected ${m.expected}, computed ${m.computed}`),
);
book.on("stale", (s) => console.warn(`stale: the book is ${s.ageMs} ms old`));
book.on("error", (e) => console.error(`server error ${e.code}: ${e.message}`));

await new Promise((r) => setTimeout(r, Number(seconds) * 1000));
book.close();

const last = book.book;
if (last === null) {
  console.error("no verified book received");
  process.exit(1);
}
try {
  const r = await ts.simulateTrade({
    instId,
    side: "buy",
    contracts: 1,
    orderbook: { bids: last.bids, asks: last.asks, ts: last.ts },
  });
  console.log(`buy 1 contract: avg ${r.fill.avgPrice}, slippage ${r.slippage.vsMidBps.toFixed(3)} bps vs mid`);
  console.log(`verified ${book.stats.verified} books, ${book.stats.mismatches} mismatches`);
} catch (e) {
  if (e instanceof TradeSimApiError) console.error(`simulate: ${e.status} ${e.code} at ${e.path ?? "-"}: ${e.message}`);
  else throw e;
  process.exit(1);
}
