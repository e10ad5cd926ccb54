/** Per-IP rate limits (Workers Rate Limiting binding) on POST /simulate/trade and on WebSocket upgrades. */
import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";

// vitest.workers.config.ts sizes the limits for tests: 300 simulations / 2,000 upgrades per minute per IP.
const SIM_LIMIT = 300;
const UPGRADE_LIMIT = 2000;

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
