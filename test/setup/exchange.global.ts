/**
 * vitest globalSetup for the workerd tests: starts the local OKX exchange (Node) on a free loopback port and
 * provides its URLs to the pool config (which passes them to the Worker as OKX_WS_URL) and to the tests.
 */
import type { TestProject } from "vitest/node";
import { startExchange, type Exchange } from "../../tools/exchange/server.js";
import { DATA } from "../../tools/lib/captures.js";

let ex: Exchange | undefined;

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  ex = await startExchange({
    replay: [DATA.btcSwap, DATA.okx20220513, DATA.okcoinTrades],
    port: 0,
    // x2: the 2022-05-13 capture has ~11 s of books in a 37 s loop; faster replay keeps waits short.
    speed: 2,
    loop: true,
    // Tests open many relays in a short time; the 3/s OKX limit is covered by the exchange's own tests.
    connectionsPerSecond: 0,
    // Tests compare relayed books with the exchange's book at the same seqId (~40 books/s: about 2 minutes).
    bookHistory: 5000,
  });
  project.provide("exchangeUrl", ex.url);
  project.provide("exchangeHttp", ex.httpUrl);
  return async () => {
    await ex?.close();
  };
}

declare module "vitest" {
  export interface ProvidedContext {
    exchangeUrl: string;
    exchangeHttp: string;
  }
}
