/** Route tests through the Hono app (`app.request()`), with the real bindings inside workerd. */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { app } from "../src/index.js";
import { TestClient } from "./helpers/ws-client.js";

const ws = { headers: { Upgrade: "websocket" } };

describe("GET /ws/okx validation (before the upgrade)", () => {
  it.each([
    ["/ws/okx", 400, "missing_instId"],
    ["/ws/okx?instId=", 400, "missing_instId"],
    ["/ws/okx?instId=btc-usdt", 400, "invalid_instId"],
    ["/ws/okx?instId=BTC", 400, "invalid_instId"],
    ["/ws/okx?instId=BTC-USDT%00", 400, "invalid_instId"],
    [`/ws/okx?instId=${"A".repeat(70)}-USDT`, 400, "invalid_instId"],
    ["/ws/okx?instId=BTC-USDT&depth=0", 400, "invalid_depth"],
    ["/ws/okx?instId=BTC-USDT&depth=401", 400, "invalid_depth"],
    ["/ws/okx?instId=BTC-USDT&depth=abc", 400, "invalid_depth"],
    ["/ws/okx?instId=BTC-USDT&depth=-5", 400, "invalid_depth"],
    ["/ws/prediction?instId=bad", 400, "invalid_instId"],
  ])("%s -> %i %s", async (path, status, code) => {
    const res = await app.request(path, ws, env);
    expect(res.status).toBe(status);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe(code);
    expect(body.error.message.length).toBeGreaterThan(10);
  });

  it("plain GET without Upgrade -> 426 with a hint", async () => {
    const res = await app.request("/ws/okx?instId=BTC-USDT", {}, env);
    expect(res.status).toBe(426);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("upgrade_required");
  });

  it("ALLOWED_INSTRUMENTS restricts the instruments served", async () => {
    const res = await app.request("/ws/okx?instId=ETH-USDT", ws, {
      ...env,
      ALLOWED_INSTRUMENTS: "BTC-USDT,BTC-USDT-SWAP",
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("unknown_instId");
  });
});

describe("GET /health, /status and unknown routes", () => {
  it("/health", async () => {
    const res = await app.request("/health", {}, env);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ ok: true });
  });

  it("/status lists active instruments with upstream state and counters", async () => {
    const c = await TestClient.open("/ws/okx?instId=UNI-USD-SWAP");
    await c.nextBook();
    const res = await app.request("/status", {}, env);
    const body = (await res.json()) as {
      instruments: {
        instId: string;
        state: string;
        clients: number;
        bookMessages: number;
        resyncs: number;
        reconnects: number;
      }[];
    };
    const uni = body.instruments.find((i) => i.instId === "UNI-USD-SWAP");
    expect(uni).toMatchObject({ state: "live", clients: 1, resyncs: 0 });
    expect(uni!.bookMessages).toBeGreaterThan(0);
    const one = (await (await app.request("/status?instId=UNI-USD-SWAP", {}, env)).json()) as {
      instruments: { instId: string }[];
    };
    expect(one.instruments.map((i) => i.instId)).toEqual(["UNI-USD-SWAP"]);
    c.close();
  });

  it("unknown route -> 404 JSON", async () => {
    const res = await app.request("/nope", {}, env);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("not_found");
  });
});
