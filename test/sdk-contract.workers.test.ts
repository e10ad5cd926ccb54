/**
 * The contract inside workerd: real /status and /health answers (relays fed by the local exchange) match the
 * schemas /openapi.json publishes for them, exactly (no undocumented field); the docs routes, with the AsyncAPI
 * JSON imported into the bundle, answer in the production runtime.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { app } from "../src/index.js";
import { docsRoutes } from "../src/routes/docs.js";
import { HealthResponseSchema, StatusResponseSchema } from "../src/routes/status.js";
import { TestClient } from "./helpers/ws-client.js";

/** Issues of parsing `value` with unknown top-level keys rejected (nested keys are compared in the test). */
function strictParse(schema: typeof StatusResponseSchema, value: unknown) {
  const r = schema.strict().safeParse(value);
  return r.success ? null : r.error.issues;
}

describe("HTTP answers match their OpenAPI schemas", () => {
  it("GET /status with a live relay", async () => {
    const c = await TestClient.open("/ws/okx?instId=BTC-USDT-SWAP");
    try {
      await c.next((m) => m.type === "book", 20_000, "a book");
      const res = await app.request("/status?instId=BTC-USDT-SWAP", {}, env);
      expect(res.status).toBe(200);
      const body = (await res.json()) as { instruments: Record<string, unknown>[] };
      expect(strictParse(StatusResponseSchema, body)).toBeNull();
      const stats = StatusResponseSchema.shape.instruments.element;
      const one = body.instruments[0]!;
      // Every field the relay reports is documented, and every documented field is reported.
      expect(Object.keys(one).sort()).toEqual(Object.keys(stats.shape).sort());
      expect(Object.keys(one.faults as object).sort()).toEqual(Object.keys(stats.shape.faults.shape).sort());
      expect(one).toMatchObject({ instId: "BTC-USDT-SWAP", state: "live" });
    } finally {
      c.ws.close();
    }
  });

  it("GET /health and a 400 from /status", async () => {
    const h = await app.request("/health", {}, env);
    expect(HealthResponseSchema.strict().safeParse(await h.json()).success).toBe(true);
    const bad = await app.request("/status?instId=btc", {}, env);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe("invalid_instId");
  });
});

describe("docs routes in workerd", () => {
  it("serve /openapi.json, /asyncapi.json (bundled JSON) and /docs", async () => {
    const o = await docsRoutes.request("https://tradesim.test/openapi.json", {}, env);
    expect(((await o.json()) as { servers: { url: string }[] }).servers[0]!.url).toBe("https://tradesim.test");
    const a = await docsRoutes.request("https://tradesim.test/asyncapi.json", {}, env);
    const doc = (await a.json()) as { asyncapi: string; servers: Record<string, { host: string; protocol: string }> };
    expect(doc.asyncapi).toBe("3.1.0");
    expect(doc.servers.self).toMatchObject({ host: "tradesim.test", protocol: "wss" });
    const d = await docsRoutes.request("https://tradesim.test/docs", {}, env);
    expect(d.headers.get("content-type")).toMatch(/text\/html/);
  });
});
