/** Client-side load and abuse against one relay: 1,000 clients, connect/disconnect churn. */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { RelayStats } from "../src/relay/relay.js";
import { TestClient, sleep, uniqueName } from "./helpers/ws-client.js";

const SWAP = "BTC-USDT-SWAP";

async function stats(name: string): Promise<RelayStats> {
  return (await (await env.RELAY.get(env.RELAY.idFromName(name)).fetch("https://relay/stats")).json()) as RelayStats;
}

describe("client load", () => {
  it("1,000 concurrent clients on one instrument all receive every update", async () => {
    const name = uniqueName("k1");
    const clients: TestClient[] = [];
    for (let batch = 0; batch < 10; batch++) {
      clients.push(...(await Promise.all(Array.from({ length: 100 }, () => TestClient.openRelay(name, SWAP)))));
    }
    await Promise.all(clients.map((c) => c.nextBook(20_000)));
    const startSeq = Math.max(...clients.map((c) => c.books()[0]!.seq));
    // wait until the first client has seen 10 more updates
    await clients[0]!.next((m) => m.type === "book" && m.seq >= startSeq + 10, 20_000, "10 more books");
    await sleep(300);
    const endSeq = startSeq + 10;
    for (const c of clients) {
      const seqs = c.books().map((b) => b.seq).filter((s) => s >= startSeq && s <= endSeq);
      expect(seqs).toEqual(Array.from({ length: endSeq - startSeq + 1 }, (_, i) => startSeq + i));
    }
    const st = await stats(name);
    expect(st.clients).toBe(1000);
    expect(st.state).toBe("live");
    for (const c of clients) c.close();
  }, 60_000);
});

describe("connect/disconnect churn", () => {
  it("300 short-lived clients leak nothing; upstream closes after the grace period and reopens on demand", async () => {
    const name = uniqueName("churn");
    for (let round = 0; round < 30; round++) {
      const batch = await Promise.all(Array.from({ length: 10 }, () => TestClient.openRelay(name, SWAP)));
      await Promise.all(batch.map((c) => c.next((m) => m.type === "status", 10_000, "status")));
      for (const c of batch) c.close();
    }
    await sleep(100);
    const mid = await stats(name);
    expect(mid.clients).toBe(0);
    await sleep(1200); // grace is 300 ms in tests
    const idle = await stats(name);
    expect(idle.state).toBe("idle");
    expect(idle.clients).toBe(0);
    const c = await TestClient.openRelay(name, SWAP);
    await c.nextBook();
    expect((await stats(name)).state).toBe("live");
    c.close();
  });
});
