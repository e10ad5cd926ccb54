/**
 * Fan-out shards in workerd (vitest.shards.config.ts: threshold 2, 2 clients per shard, at most 3 shards), against
 * the local exchange: routing and growth, every client's books equal to the exchange's at the same seqId whether
 * it sits on the relay or a shard, the same `seq` numbering everywhere, a shard restart, a relay reconnect, the
 * loss of the relay under linked shards, the switch back to one-shard mode, prediction clients on shards, and
 * GET /status merging the shards in.
 */
import { env, runInDurableObject, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { BookMessage, StatusMessage } from "../src/protocol.js";
import { shardName } from "../src/relay/shards.js";
import { TestClient, compareWithExchange, exchange, relayStats, sleep, uniqueName } from "./helpers/ws-client.js";

const SWAP = "BTC-USDT-SWAP";

async function eventually(pred: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

/** Open `n` book clients one after the other (routing depends on the order). */
async function openMany(relay: string, n: number, depth = 25): Promise<TestClient[]> {
  const out: TestClient[] = [];
  for (let i = 0; i < n; i++) out.push(await TestClient.openRelay(relay, SWAP, "book", depth));
  return out;
}

/** Abort one Durable Object (a crash or code update: its sockets are closed, its memory is gone). */
async function abort(stub: DurableObjectStub): Promise<void> {
  await runInDurableObject(stub, (_instance, state) => {
    try {
      state.abort("test restart");
    } catch {
      // abort throws in the aborted object's own call
    }
  }).catch(() => {});
}

const shardStub = (relay: string, i: number) => env.SHARD.get(env.SHARD.idFromName(shardName(relay, i)));

describe("fan-out shards", () => {
  it("routes past the threshold to shards, grows K with the clients, and every client gets the same verified books", async () => {
    const relay = uniqueName("shards");
    const clients = await openMany(relay, 6);
    let last = "";
    await eventually(
      async () => {
        const s = await relayStats(relay);
        last = s.shards.map((x) => x.clients).join(",");
        return last === "2,2";
      },
      10_000,
      "two shards of two clients",
    ).catch((e: unknown) => {
      throw new Error(`${String(e)}; last: ${last}`);
    });
    const s = await relayStats(relay);
    expect(s.bookClients).toBe(2); // the relay's own
    expect(s.shards.map((x) => x.shard)).toEqual([0, 1]);
    for (const x of s.shards) expect(x.depths).toEqual([25]);
    // Every client (relay or shard) receives books; wait for several after all are connected.
    for (const c of clients) await c.nextBook(20_000);
    const books = await Promise.all(
      clients.map(async (c) => [await c.nextBook(), await c.nextBook(), await c.nextBook()]),
    );
    // seq is the relay's: a given seq is the same message (byte for byte) on the relay and on every shard.
    const bySeq = new Map<number, string>();
    let shared = 0;
    for (const mine of books)
      for (const b of mine) {
        const j = JSON.stringify(b);
        const seen = bySeq.get(b.seq);
        if (seen !== undefined) {
          expect(j).toBe(seen);
          shared++;
        } else bySeq.set(b.seq, j);
      }
    expect(shared).toBeGreaterThan(0);
    expect(await compareWithExchange(books.flat())).toBeGreaterThanOrEqual(12);
    // The shards hold the clients the relay routed to them.
    const st0 = await shardStub(relay, 0).stats();
    const st1 = await shardStub(relay, 1).stats();
    expect([st0.clients, st1.clients, st0.link, st1.link]).toEqual([2, 2, "linked", "linked"]);
    expect(st0.sends).toBeGreaterThan(0);
    for (const c of clients) c.close();
  }, 60_000);

  it("a new depth on a shard gets the current book at once, and the relay serializes it once for all shards", async () => {
    const relay = uniqueName("depths");
    const clients = await openMany(relay, 3); // 2 on the relay, 1 on shard 0
    await clients[2]!.nextBook(20_000);
    const deep = await TestClient.openRelay(relay, SWAP, "book", 400); // shard 0 (K = ceil(2/2) = 1)
    const first = await deep.nextBook(10_000);
    expect(first.depth).toBe(400);
    expect(first.bids.length).toBeGreaterThan(25);
    const more = [first, await deep.nextBook(), await deep.nextBook()];
    expect(await compareWithExchange(more)).toBeGreaterThanOrEqual(2);
    const s = await relayStats(relay);
    expect(s.shards[0]!.depths).toEqual([25, 400]);
    for (const c of [...clients, deep]) c.close();
  }, 60_000);

  it("a shard restart: its clients are closed, reconnecting ones get verified books, the other shard never notices", async () => {
    const relay = uniqueName("shard-restart");
    const clients = await openMany(relay, 6);
    for (const c of clients) await c.nextBook(20_000);
    await abort(shardStub(relay, 0));
    // The aborted shard's two clients (the 3rd and 4th) are closed; the others keep receiving.
    await Promise.all([clients[2]!.waitClosed(10_000), clients[3]!.waitClosed(10_000)]);
    const before = clients[4]!.books().length;
    await eventually(async () => clients[4]!.books().length > before + 2, 10_000, "books on the other shard");
    expect(clients[4]!.closed).toBeNull();
    // The relay forgets the aborted shard's link (its close reaches the relay): only shard 1's two clients remain.
    const onShards = async () => (await relayStats(relay)).shards.reduce((n, x) => n + x.clients, 0);
    await eventually(async () => (await onShards()) === 2, 15_000, "the aborted shard's link gone");
    // Reconnecting clients are routed again (least loaded) and hold verified books.
    const back = await openMany(relay, 2);
    const got: BookMessage[] = [];
    for (const c of back) for (let i = 0; i < 3; i++) got.push(await c.nextBook(20_000));
    expect(await compareWithExchange(got)).toBeGreaterThanOrEqual(4);
    await eventually(async () => (await onShards()) === 4, 15_000, "four clients on shards again");
    for (const x of (await relayStats(relay)).shards) expect(x.clients).toBeLessThanOrEqual(2);
    for (const c of [...clients, ...back]) c.close();
  }, 60_000);

  it("a relay reconnect (upstream dropped): shard clients are told resyncing, then live, then verified books", async () => {
    const relay = uniqueName("shard-reconnect");
    const clients = await openMany(relay, 4);
    const onShard = clients[3]!;
    await onShard.nextBook(20_000);
    await exchange.fault({ type: "drop", after: 0, instId: SWAP });
    await onShard.next((m) => m.type === "status" && m.state !== "live", 15_000, "a non-live status");
    await onShard.next((m) => m.type === "status" && m.state === "live", 20_000, "live again");
    const got = [await onShard.nextBook(10_000), await onShard.nextBook(), await onShard.nextBook()];
    expect(await compareWithExchange(got)).toBeGreaterThanOrEqual(2);
    for (const c of clients) c.close();
  }, 60_000);

  it("the relay lost under linked shards: shard clients are told at once, the shard relinks, books resume verified", async () => {
    const relay = uniqueName("relay-lost");
    const clients = await openMany(relay, 4);
    const onShard = clients[3]!;
    await onShard.nextBook(20_000);
    const t0 = Date.now();
    await abort(env.RELAY.get(env.RELAY.idFromName(relay)));
    // Never a silent gap: the shard tells its clients the link is lost.
    const lost = await onShard.next<StatusMessage>(
      (m) => m.type === "status" && m.state === "resyncing",
      10_000,
      "link-lost status",
    );
    expect(lost.reason).toMatch(/relay link/);
    // The relay's own clients were closed by the abort; the shard's stay and get books again (a new seq numbering).
    await clients[0]!.waitClosed(10_000);
    expect(onShard.closed).toBeNull();
    await onShard.next((m) => m.type === "status" && m.state === "live", 20_000, "live after relink");
    const got = [await onShard.nextBook(20_000), await onShard.nextBook(), await onShard.nextBook()];
    console.log(`relay abort -> shard client holds a verified book after ${Date.now() - t0} ms`);
    expect(await compareWithExchange(got)).toBeGreaterThanOrEqual(2);
    // It acks the new numbering and keeps receiving (its flow state restarted with the relay's seq).
    onShard.send(JSON.stringify({ op: "ack", seq: got.at(-1)!.seq }));
    await onShard.nextBook(10_000);
    for (const c of clients) c.close();
  }, 60_000);

  it("switches back to one-shard mode when clients leave, and sharded again when they return", async () => {
    const relay = uniqueName("switch");
    const clients = await openMany(relay, 4);
    await clients[3]!.nextBook(20_000);
    expect((await relayStats(relay)).shards.length).toBe(1);
    for (const c of clients) c.close();
    // Shards close their link after the grace period (300 ms in tests) once their clients are gone.
    await eventually(async () => (await relayStats(relay)).shards.length === 0, 10_000, "shard links closed");
    const alone = await TestClient.openRelay(relay, SWAP);
    await alone.nextBook(20_000);
    let s = await relayStats(relay);
    expect([s.bookClients, s.shards.length]).toEqual([1, 0]);
    const more = await openMany(relay, 2); // the relay holds 2; the next goes to a shard again
    await more[1]!.nextBook(20_000);
    await eventually(async () => (await relayStats(relay)).shards.length === 1, 10_000, "sharded again");
    s = await relayStats(relay);
    expect([s.bookClients, s.shards[0]!.clients]).toEqual([2, 1]);
    for (const c of [alone, ...more]) c.close();
  }, 60_000);

  it("prediction clients on a shard get the relay's forecasts", async () => {
    const relay = uniqueName("shard-pred");
    const direct = await openMany(relay, 2);
    await direct[0]!.nextBook(20_000);
    const p = await TestClient.openRelay(relay, SWAP, "prediction");
    await eventually(
      async () => (await relayStats(relay)).shards[0]?.prediction === true,
      10_000,
      "shard wants forecasts",
    );
    const f = await p.next((m) => m.type === "prediction", 30_000, "a forecast");
    expect(f.type).toBe("prediction");
    for (const c of [...direct, p]) c.close();
  }, 60_000);

  it("GET /status merges the shards into the instrument's entry", async () => {
    const clients: TestClient[] = [];
    for (let i = 0; i < 5; i++) clients.push(await TestClient.open(`/ws/okx?instId=${SWAP}`));
    for (const c of clients) await c.nextBook(20_000);
    let last = "";
    await eventually(
      async () => {
        const body = (await (await SELF.fetch(`http://tradesim.test/status?instId=${SWAP}`)).json()) as {
          instruments: { clients: number; shards: { clients: number }[] }[];
        };
        const e = body.instruments[0]!;
        last = JSON.stringify(e);
        return e.clients === 5 && e.shards.reduce((n, s) => n + s.clients, 0) === 3;
      },
      10_000,
      "status: 5 clients, 3 of them on shards",
    ).catch((e: unknown) => {
      throw new Error(`${String(e)}; last: ${last.slice(0, 600)}`);
    });
    const body = (await (await SELF.fetch(`http://tradesim.test/status?instId=${SWAP}`)).json()) as {
      instruments: { bookClients: number; sends: number; linkSends: number }[];
    };
    const direct = await relayStats(SWAP);
    expect(body.instruments[0]!.bookClients).toBe(5);
    expect(body.instruments[0]!.sends).toBeGreaterThan(direct.sends);
    expect(body.instruments[0]!.linkSends).toBeGreaterThan(0);
    for (const c of clients) c.close();
  }, 60_000);
});
