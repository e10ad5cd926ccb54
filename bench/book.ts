/**
 * Book engine throughput on real OKX captures: JSON.parse alone (the floor), TradeSim's parse + apply with and
 * without checksum verification, and ccxt's OKX order-book handling (current ccxt, which no longer validates
 * checksums, and ccxt 4.5.54, the last release that does) fed the same messages through `handleMessage`.
 */
import ccxt from "ccxt";
import ccxtLegacy from "ccxt-legacy";
import { applyBook, createBook, type Book } from "../src/okx/book.js";
import { parseOkxMessage } from "../src/okx/protocol.js";
import { DATA, receivedMessages } from "../tools/lib/captures.js";
import { fmt, percentile, type Result } from "./lib.js";

/** Book messages (raw JSON text) of a capture. */
function bookMessages(path: string): string[] {
  return receivedMessages(path)
    .map((m) => m.json)
    .filter((j) => j.includes('"channel":"books') && j.includes('"action"'));
}

function runTradeSim(msgs: readonly string[], verifyChecksum: boolean): { faults: number } {
  const books = new Map<string, Book>();
  let faults = 0;
  for (let i = 0; i < msgs.length; i++) {
    const m = parseOkxMessage(msgs[i]!);
    if (m.kind !== "books") continue;
    let b = books.get(m.arg.instId);
    if (b === undefined) {
      b = createBook(m.arg.instId);
      books.set(m.arg.instId, b);
    }
    if (!applyBook(b, m.action, m.data, { verifyChecksum }).ok) faults++;
  }
  return { faults };
}

/** A ccxt exchange instance wired for offline replay: a fake client that accepts every subscription. */
function ccxtHarness(lib: typeof ccxt, checksum: boolean, instIds: readonly string[]) {
  /** The two methods of ccxt.pro's okx class this harness drives (ccxt ships them untyped for the pro side). */
  interface OkxPro {
    setMarkets(markets: unknown[]): void;
    handleMessage(client: unknown, message: unknown): void;
  }
  const Ex = (lib as unknown as { pro: Record<string, new (o: unknown) => OkxPro> }).pro.okx!;
  const ex = new Ex({ options: { watchOrderBook: { checksum } } });
  // Markets set by hand (no network): one minimal market per instrument, symbol = instId.
  ex.setMarkets(
    instIds.map((id) => {
      const [base, quote] = id.split("-");
      const option = /-[CP]$/.test(id);
      return {
        id,
        symbol: id,
        base,
        quote,
        type: option ? "option" : "spot",
        spot: !option,
        option,
        active: true,
        precision: {},
        limits: {},
        info: {},
      };
    }),
  );
  let rejects = 0;
  let resolves = 0;
  const client = {
    url: "wss://ws.okx.com:8443/ws/v5/public",
    subscriptions: new Proxy({}, { has: () => true, deleteProperty: () => true }),
    futures: {},
    resolve: () => resolves++,
    reject: () => rejects++,
  };
  return {
    feed(msgs: readonly string[]) {
      for (let i = 0; i < msgs.length; i++) ex.handleMessage(client, JSON.parse(msgs[i]!));
    },
    stats: () => ({ rejects, resolves }),
  };
}

interface Case {
  name: string;
  run: () => void;
  note?: () => string;
}

/** Messages per second of one replay loop for `ms`. */
function rate(msgs: number, run: () => void, ms: number): number {
  let calls = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < ms) {
    run();
    calls++;
  }
  return (calls * msgs) / ((performance.now() - t0) / 1000);
}

/**
 * Throughput of every case, each call replaying the whole capture. The cases run in interleaved rounds and each
 * reports its median round: on a shared 2-core VM a single measurement swings by ±20 %, and interleaving keeps
 * the ratios between engines fair (every engine sees the same machine conditions).
 */
function compare(msgs: number, cases: readonly Case[], rounds: number, roundMs: number): Result[] {
  for (const c of cases) rate(msgs, c.run, Math.min(300, roundMs)); // warm-up (JIT)
  const rates = cases.map(() => [] as number[]);
  for (let r = 0; r < rounds; r++) {
    for (const [i, c] of cases.entries()) rates[i]!.push(rate(msgs, c.run, roundMs));
  }
  return cases.map((c, i) => {
    const xs = rates[i]!;
    const range = `median of ${rounds} rounds, ${fmt(Math.min(...xs), 0)}-${fmt(Math.max(...xs), 0)}`;
    return { name: c.name, value: percentile(xs, 50), unit: "msgs/s", note: c.note ? `${range}; ${c.note()}` : range };
  });
}

/** Run the book benchmarks; `quick` shortens every measurement to a smoke test. */
export function benchBook(quick: boolean): Result[] {
  const msgs = bookMessages(DATA.okx20220227);
  const tag = `2022-02-27 capture, ${msgs.length} msgs, 10 instruments, 400-level books`;
  const ids = [...new Set(msgs.map((m) => /"instId":"([^"]+)"/.exec(m)![1]!))];
  const cur = ccxtHarness(ccxt, false, ids);
  const leg = ccxtHarness(ccxtLegacy as unknown as typeof ccxt, true, ids);
  const version = (lib: unknown) => (lib as { version: string }).version;
  const legStats = () => {
    const s = leg.stats();
    return `${s.rejects} checksum/nonce rejections out of ${s.rejects + s.resolves} messages`;
  };
  const out = compare(
    msgs.length,
    [
      {
        name: `JSON.parse only (floor) [${tag}]`,
        run: () => {
          for (const m of msgs) JSON.parse(m);
        },
      },
      { name: "TradeSim parse + apply + checksum verify", run: () => runTradeSim(msgs, true) },
      { name: "TradeSim parse + apply, no checksum", run: () => runTradeSim(msgs, false) },
      { name: `ccxt ${version(ccxt)} handleMessage (no checksum: dropped upstream)`, run: () => cur.feed(msgs) },
      { name: `ccxt ${version(ccxtLegacy)} handleMessage with checksum`, run: () => leg.feed(msgs), note: legStats },
    ],
    quick ? 1 : 5,
    quick ? 100 : 1000,
  );
  const [, withCs, , ccxtCur, ccxtLeg] = out.map((r) => r.value) as [number, number, number, number, number];
  out.push({
    name: `ratio: TradeSim with checksum / ccxt ${version(ccxt)} without`,
    value: withCs / ccxtCur,
    unit: "x",
  });
  out.push({
    name: `ratio: TradeSim with checksum / ccxt ${version(ccxtLegacy)} with checksum`,
    value: withCs / ccxtLeg,
    unit: "x",
  });
  const sanity = runTradeSim(msgs, true);
  if (sanity.faults !== 0) throw new Error(`TradeSim rejected ${sanity.faults} messages of a valid capture`);
  return out;
}
