/** The rate-limit middleware in Node, with a fake Workers Rate Limiting binding (the real one: limits.workers.test.ts). */
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { onError } from "../src/errors.js";
import { rateLimit } from "../src/routes/limits.js";

function app() {
  const keys: string[] = [];
  const a = new Hono<{ Bindings: Record<string, unknown> }>();
  a.onError(onError);
  a.use("/x", rateLimit("SIMULATE_LIMITER", "simulations"));
  a.get("/x", (c) => c.text("ok"));
  const limiter = (success: boolean) => ({
    limit: async ({ key }: { key: string }) => {
      keys.push(key);
      return { success };
    },
  });
  return { a, keys, limiter };
}

describe("rateLimit middleware", () => {
  it.each([
    ["within the limit", true, "on", 200],
    ["over the limit", false, "on", 429],
    ["over the limit, RATE_LIMIT=off", false, "off", 200],
  ] as const)("%s -> %i", async (_n, success, mode, status) => {
    const { a, keys, limiter } = app();
    const res = await a.request(
      "/x",
      { headers: { "cf-connecting-ip": "198.51.100.7" } },
      { SIMULATE_LIMITER: limiter(success), RATE_LIMIT: mode },
    );
    expect(res.status).toBe(status);
    if (status === 429) {
      expect(res.headers.get("retry-after")).toBe("60");
      expect(await res.json()).toEqual({
        error: { code: "rate_limited", message: "too many simulations from this address: retry in 60 s" },
      });
    }
    // Keyed by the client's address; with the limits off the binding is not even asked.
    expect(keys).toEqual(mode === "off" ? [] : ["198.51.100.7"]);
  });

  it('requests without CF-Connecting-IP (no edge in front) share the key "local"', async () => {
    const { a, keys, limiter } = app();
    await a.request("/x", {}, { SIMULATE_LIMITER: limiter(true), RATE_LIMIT: "on" });
    expect(keys).toEqual(["local"]);
  });
});
