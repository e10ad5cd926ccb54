/**
 * Object restarts (issue: reliability). Runtime fact (workerd, checked with evictAllDurableObjects): a relay whose
 * outbound upstream socket is open holds an active reference and is never evicted gracefully, so the restart a
 * live relay meets is a reset (code update, crash, `abort`): its client sockets are closed, clients reconnect (the
 * SDK and the UI do, with backoff) and must get a verified book, and the exchange's connection log must show no
 * duplicate upstream afterwards. A restart storm of many relays still opens at most 3 upstream connections per second.
 * (Eviction with hibernated clients and no upstream is covered in Node: test/relay-core.test.ts "restores clients".)
 */
import { abortAllDurableObjects } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { BookMessage } from "../src/protocol.js";
import { TestClient, compareWithExchange, exchange, relayStats, sleep, uniqueName } from "./helpers/ws-client.js";

const SWAP = "BTC-USDT-SWAP";

async function eventually(pred: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

/** Open upstream connections the exchange sees for `instId` among connections after `since`. */
async function openUpstreams(since: number, instId: string): Promise<number> {
  const log = await exchange.connections(since);
  return log.connections.filter((r) => r.closedAt === null && (r.subscribes[instId] ?? 0) > 0).length;
}

describe("object restarts", () => {
  it("abort: clients are closed, reconnecting clients get a verified book, no duplicate upstream", async () => {
    const name = uniqueName("abort");
    const c = await TestClient.openRelay(name, SWAP);
    await c.nextBook();
    const since = await exchange.lastConnectionId();
    const t0 = Date.now();
    await abortAllDurableObjects();
    const again = await TestClient.openRelay(name, SWAP);
    const got: BookMessage[] = [];
    for (let i = 0; i < 4; i++) got.push(await again.nextBook(20_000));
    console.log(`abort -> reconnected client holds a verified book after ${Date.now() - t0} ms`);
    expect(await compareWithExchange(got)).toBeGreaterThanOrEqual(3);
    // One new upstream for this relay, and the aborted instance's upstream is gone.
    await eventually(async () => (await openUpstreams(since, SWAP)) <= 1, 10_000, "one open upstream after the abort");
    const st = await relayStats(name);
    expect(st.state).toBe("live");
    again.close();
    c.close();
  }, 40_000);

  it("a restart storm of many relays still opens at most 3 upstream connections per second", async () => {
    const ids = ["BTC-USDT", "BTC-USD-220527", "UNI-USD-SWAP", "BTC-USDT-SWAP", "BTC-CNY"].flatMap((id) => [id, id]);
    const names = ids.map((id) => uniqueName(`storm-${id}`));
    const clients = await Promise.all(ids.map((id, i) => TestClient.openRelay(names[i]!, id)));
    await Promise.all(clients.map((c) => c.nextBook(20_000)));
    const since = await exchange.lastConnectionId();
    await abortAllDurableObjects();
    // Every client reconnects at once (the storm), each to its own relay.
    const back = await Promise.all(ids.map((id, i) => TestClient.openRelay(names[i]!, id)));
    await Promise.all(back.map((c) => c.nextBook(30_000)));
    const log = await exchange.connections(since);
    expect(log.connections.length).toBe(ids.length);
    const opened = log.connections.map((r) => r.openedAt).sort((a, b) => a - b);
    for (let i = 3; i < opened.length; i++) expect(opened[i]! - opened[i - 3]!).toBeGreaterThanOrEqual(1000);
    for (const c of [...clients, ...back]) c.close();
  }, 60_000);
});
