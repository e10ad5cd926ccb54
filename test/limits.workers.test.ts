/** Per-IP rate limits (Workers Rate Limiting binding) on POST /simulate/trade and on WebSocket upgrades. */
import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { TestClient, compareWithExchange, relayStats } from "./helpers/ws-client.js";

// vitest.workers.config.ts sizes the limits for tests: 300 simulations / 2,000 upgrades per minute per IP.
const SIM_LIMIT = 300;
const UPGRADE_LIMIT = 2000;
const SWAP = "BTC-USDT-SWAP";

let ipSeq = Math.floor(Math.random() * 200);
const uniqueIp = () => `203.0.113.${(ipSeq++ % 250) + 1}`;

/**
 * Send requests in batches until one is answered 429; returns how many were answered before it (all must be
 * `okStatus`) and the 429 response. The binding counts in fixed windows (per minute), so a window boundary during
 * the run can reset the count once: the first 429 comes after at least `limit` and at most `2 * limit` requests.
 */
async function untilLimited(send: () => Promise<Response>, okStatus: number, limit: number, batch: number) {
  let answered = 0;
  while (answered <= 2 * limit) {
    const res = await Promise.all(Array.from({ length: batch }, send));
    for (const r of res) {
      if (r.status === 429) return { answered, limited: r };
      expect(r.status).toBe(okStatus);
      answered++;
    }
  }
  throw new Error(`no 429 after ${answered} requests`);
}

describe("rate limits", () => {
  it("POST /simulate/trade: 429 JSON with Retry-After past the per-IP limit; other IPs unaffected", async () => {
    const simulate = (ip: string) => () =>
      SELF.fetch("https://tradesim.test/simulate/trade", {
        method: "POST",
        headers: { "content-type": "application/json", "cf-connecting-ip": ip },
        // Invalid on purpose (no instrument): answered 400 by the route, but counted by the limiter first.
        body: JSON.stringify({ side: "buy" }),
      });
    const ip = uniqueIp();
    const { answered, limited } = await untilLimited(simulate(ip), 400, SIM_LIMIT, 25);
    expect(answered).toBeGreaterThanOrEqual(SIM_LIMIT);
    expect(answered).toBeLessThanOrEqual(2 * SIM_LIMIT);
    expect(limited.headers.get("retry-after")).toBe("60");
    expect(await limited.json()).toEqual({
      error: { code: "rate_limited", message: expect.stringMatching(/too many simulations/) },
    });
    expect((await simulate(ip)()).status).toBe(429);
    // Another client's address has its own budget.
    expect((await simulate(uniqueIp())()).status).toBe(400);
  }, 60_000);

  it("WebSocket upgrades: 429 past the per-IP limit, before the request reaches a relay", async () => {
    const ip = uniqueIp();
    // An invalid instId is answered 400 by the route, after the limiter has counted it: no relay is involved.
    const upgrade = () =>
      SELF.fetch("https://tradesim.test/ws/okx?instId=not-valid", {
        headers: { upgrade: "websocket", "cf-connecting-ip": ip },
      });
    const { answered, limited } = await untilLimited(upgrade, 400, UPGRADE_LIMIT, 200);
    expect(answered).toBeGreaterThanOrEqual(UPGRADE_LIMIT);
    expect(limited.headers.get("retry-after")).toBe("60");
    expect(((await limited.json()) as { error: { code: string } }).error.code).toBe("rate_limited");
  }, 90_000);
});

describe("upgrade burst", () => {
  it("5,000 upgrade attempts from one IP: beyond the cap all get 429 + Retry-After at once; the relay stays live, admitted clients keep getting every book, other IPs are admitted", async () => {
    const ip = uniqueIp();
    const up = (instId: string, from = ip) =>
      SELF.fetch(`https://tradesim.test/ws/okx?instId=${instId}`, {
        headers: { upgrade: "websocket", "cf-connecting-ip": from },
      });
    // Admitted before the burst: 10 clients from the same address.
    const clients: TestClient[] = [];
    for (let i = 0; i < 10; i++) {
      const res = await up(SWAP);
      expect(res.status).toBe(101);
      res.webSocket!.accept();
      clients.push(new TestClient(res.webSocket!));
    }
    await Promise.all(clients.map((c) => c.nextBook(15_000)));
    const firstSeq = clients.map((c) => c.books()[0]!.seq);
    // The burst, 250 at a time. The instId is invalid so that what the limiter admits is answered 400 by the route
    // (no relay, no socket); the limiter counts every attempt before that.
    const BURST = 5000;
    const statuses = new Map<number, number>();
    let slowest429 = 0;
    let limited: Response | null = null;
    for (let sent = 0; sent < BURST; sent += 250) {
      const answers = await Promise.all(
        Array.from({ length: 250 }, async () => {
          const t0 = performance.now();
          const res = await up("not-valid");
          return { res, ms: performance.now() - t0 };
        }),
      );
      for (const { res, ms } of answers) {
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (res.status === 429) {
          slowest429 = Math.max(slowest429, ms);
          limited ??= res;
        } else await res.body?.cancel();
      }
    }
    // Only 400 (admitted, refused by the route) and 429: at least the cap minus the 10 clients admitted, at most twice
    // that (a fixed window may turn over once during the burst); everything else 429.
    expect([...statuses.keys()].sort()).toEqual([400, 429]);
    const admitted = statuses.get(400)!;
    expect(admitted).toBeGreaterThanOrEqual(UPGRADE_LIMIT - 10);
    expect(admitted).toBeLessThanOrEqual(2 * UPGRADE_LIMIT - 10);
    expect(statuses.get(429)).toBe(BURST - admitted);
    expect(limited!.headers.get("retry-after")).toBe("60");
    expect(await limited!.json()).toEqual({
      error: { code: "rate_limited", message: expect.stringMatching(/too many WebSocket connections/) },
    });
    // "At once": answered by the limiter, never queued behind a relay (generous bound for a loaded machine).
    expect(slowest429).toBeLessThan(5000);
    console.log(
      `upgrade burst: ${BURST} attempts, ${admitted} admitted (400), ${BURST - admitted} refused 429; slowest 429 ${slowest429.toFixed(0)} ms`,
    );
    // A real upgrade from that address is refused too; another address is admitted and served.
    expect((await up(SWAP)).status).toBe(429);
    const other = await up(SWAP, uniqueIp());
    expect(other.status).toBe(101);
    other.webSocket!.accept();
    const oc = new TestClient(other.webSocket!);
    await oc.nextBook(15_000);
    // The admitted clients kept getting every book through the burst, and still do; the relay is live.
    const target = Math.max(...clients.map((c) => c.books().at(-1)!.seq)) + 3;
    await Promise.all(clients.map((c) => c.next((m) => m.type === "book" && m.seq >= target, 15_000, "books after")));
    clients.forEach((c, i) => {
      const seqs = c.books().map((b) => b.seq);
      expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, k) => firstSeq[i]! + k));
    });
    expect(await compareWithExchange(clients[0]!.books().slice(-3))).toBeGreaterThanOrEqual(2);
    const st = await relayStats(SWAP);
    expect(st.state).toBe("live");
    expect(st.clients).toBe(11);
    for (const c of [...clients, oc]) c.close();
  }, 120_000);
});
