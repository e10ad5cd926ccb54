/**
 * ccxt pro's OKX client pointed at the local exchange: `okxClient(httpUrl, wsUrl)` is ccxt.pro.okx with its REST and
 * WebSocket bases replaced (markets load from the exchange's captured GET /api/v5/public/instruments, swap only:
 * the capture has no option chain). Used by test/clients.test.ts; the recipe is in tools/clients/README.md.
 *
 * `npx tsx tools/clients/ccxt-okx.ts [http://127.0.0.1:8080]` prints ten BTC/USDT:USDT books from `npm run exchange`.
 */
import ccxt from "ccxt";

/** ccxt.pro.okx talking to a local OKX-protocol exchange at `httpUrl` (ws on the same port, unless `wsUrl`). */
export async function okxClient(
  httpUrl: string,
  wsUrl = `${httpUrl.replace(/^http/, "ws")}/ws/v5`,
): Promise<InstanceType<typeof ccxt.pro.okx>> {
  const ex = new ccxt.pro.okx({ options: { fetchMarkets: { types: ["swap"] } } });
  // ccxt builds REST urls from urls.api.rest and ws urls as urls.api.ws + "/public".
  (ex.urls as { api: Record<string, string> }).api = {
    ...(ex.urls as { api: Record<string, string> }).api,
    rest: httpUrl,
    ws: wsUrl,
  };
  // ccxt refuses plain ws:// ("use proxy with non-ssl ws:// urls") until its http agent is loaded.
  if (wsUrl.startsWith("ws:")) await ex.loadHttpProxyAgent();
  return ex;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const ex = await okxClient(process.argv[2] ?? "http://127.0.0.1:8080");
  for (let i = 0; i < 10; i++) {
    const ob = await ex.watchOrderBook("BTC/USDT:USDT");
    console.log(ob.nonce, ob.bids[0], ob.asks[0], ob.bids.length, ob.asks.length);
  }
  await ex.close();
}
