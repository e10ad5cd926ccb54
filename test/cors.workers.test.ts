/** CORS policy: open by default (public, credential-less API); an allow-list restricts HTTP and WebSockets. */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { app } from "../src/index.js";

describe("CORS", () => {
  it("default: any origin may call the API", async () => {
    const res = await app.request("/health", { headers: { Origin: "https://example.org" } }, env);
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
  });

  it("preflight for POST /simulate/trade", async () => {
    const res = await app.request(
      "/simulate/trade",
      {
        method: "OPTIONS",
        headers: {
          Origin: "https://example.org",
          "Access-Control-Request-Method": "POST",
          "Access-Control-Request-Headers": "content-type",
        },
      },
      env,
    );
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-methods")).toContain("POST");
    expect(res.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("content-type");
    expect(res.headers.get("access-control-max-age")).toBe("600");
  });

  it("allow-list: listed origin echoed, others get no CORS header", async () => {
    const e = { ...env, CORS_ORIGINS: "https://app.tradesim.dev, https://localhost:3000" };
    const ok = await app.request("/status?instId=BTC-USDT", { headers: { Origin: "https://app.tradesim.dev" } }, e);
    expect(ok.headers.get("access-control-allow-origin")).toBe("https://app.tradesim.dev");
    const no = await app.request("/health", { headers: { Origin: "https://evil.example" } }, e);
    expect(no.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("allow-list: WebSocket upgrade from another origin is refused before the upgrade", async () => {
    const e = { ...env, CORS_ORIGINS: "https://app.tradesim.dev" };
    const res = await app.request(
      "/ws/okx?instId=BTC-USDT",
      { headers: { Upgrade: "websocket", Origin: "https://evil.example" } },
      e,
    );
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("origin_not_allowed");
  });
});
