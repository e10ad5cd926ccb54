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
import type { Result } from "./lib.js";

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
    if (b === undefined) books.set(m.arg.instId, (b = createBook(m.arg.instId)));
    if (!applyBook(b, m.action, m.data, { verifyChecksum }).ok) faults++;
  }
  return { faults };
}

/** A ccxt exchange instance wired for offline replay: a fake client that accepts every subscription. */
function ccxtHarness(lib: typeof ccxt, checksum: boolean, instIds: readonly string[]) {
  const Ex = (lib as unknown as { pro: Record<string, new (o: unknown) => any> }).pro.okx!;
  const ex = new Ex({ options: { watchOrderBook: { checksum } } });
  // Markets set by hand (no network): one minimal market per instrument, symbol = instId.
  ex.setMarkets(
    instIds.map((id) => {
      const [base, quote] = id.split("-");
      const option = /-[CP]$/.test(id);
      return { id, symbol: id, base, quote, type: option ? "option" : "spot", spot: !option, option, active: true, precision: {}, limits: {}, info: {} };
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

function throughput(name: string, msgs: readonly string[], run: () => void, minMs: number): Result {
  // Each call replays the whole capture: msgs/s = messages / time per call.
  const until = performance.now() + Math.min(300, minMs);
  while (performance.now() < until) run();
  let calls = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < minMs) {
    run();
    calls++;
  }
  const secs = (performance.now() - t0) / 1000;
  return { name, value: (calls * msgs.length) / secs, unit: "msgs/s" };
}

/** Run the book benchmarks; `quick` shortens every measurement to a smoke test. */
export function benchBook(quick: boolean): Result[] {
  const minMs = quick ? 100 : 2000;
  const out: Result[] = [];
  const msgs = bookMessages(DATA.okx20220227);
  const tag = `2022-02-27 capture, ${msgs.length} msgs, 10 instruments, 400-level books`;
  out.push(throughput(`JSON.parse only (floor) [${tag}]`, msgs, () => msgs.forEach((m) => JSON.parse(m)), minMs));
  out.push(throughput("TradeSim parse + apply + checksum verify", msgs, () => runTradeSim(msgs, true), minMs));
  out.push(throughput("TradeSim parse + apply, no checksum", msgs, () => runTradeSim(msgs, false), minMs));
  const ids = [...new Set(msgs.map((m) => /"instId":"([^"]+)"/.exec(m)![1]!))];
  const cur = ccxtHarness(ccxt, false, ids);
  out.push(throughput(`ccxt ${(ccxt as unknown as { version: string }).version} handleMessage (no checksum: dropped upstream)`, msgs, () => cur.feed(msgs), minMs));
  const leg = ccxtHarness(ccxtLegacy as unknown as typeof ccxt, true, ids);
  const r = throughput(`ccxt ${(ccxtLegacy as unknown as { version: string }).version} handleMessage with checksum`, msgs, () => leg.feed(msgs), minMs);
  const s = leg.stats();
  r.note = `${s.rejects} checksum/nonce rejections out of ${s.rejects + s.resolves} messages`;
  out.push(r);
  const sanity = runTradeSim(msgs, true);
  if (sanity.faults !== 0) throw new Error(`TradeSim rejected ${sanity.faults} messages of a valid capture`);
  return out;
}
